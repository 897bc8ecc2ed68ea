//! A scripted browser for the emulator's sign-in pages: keeps cookies, never follows redirects,
//! fills the forms by their stable element ids.

#![allow(dead_code)]

use reqwest::redirect::Policy;

pub struct Browser {
    client: reqwest::Client,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub url: String,
}

impl Page {
    pub fn has(&self, id: &str) -> bool {
        self.body.contains(&format!("id=\"{id}\""))
    }

    fn attribute_after(&self, marker: &str, attribute: &str) -> Option<String> {
        let rest = &self.body[self.body.find(marker)?..];
        let start = rest.find(&format!("{attribute}=\""))? + attribute.len() + 2;
        let end = rest[start..].find('"')?;
        Some(rest[start..start + end].replace("&amp;", "&"))
    }
}

impl Browser {
    pub fn new() -> Self {
        Browser {
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .cookie_store(true)
                .build()
                .expect("browser client"),
        }
    }

    async fn page(url: String, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Page {
            status,
            location,
            body: response.text().await.unwrap_or_default(),
            url,
        }
    }

    pub async fn open(&self, url: &str) -> Page {
        let response = self.client.get(url).send().await.expect("GET");
        Self::page(url.to_owned(), response).await
    }

    /// Submits the page's form (with its hidden flow id) plus `fields`.
    pub async fn submit(&self, page: &Page, fields: &[(&str, &str)]) -> Page {
        let flow = page
            .attribute_after("name=\"flow\"", "value")
            .expect("flow field");
        let action = page
            .attribute_after("<form", "action")
            .expect("form action");
        let origin = url::Url::parse(&page.url).expect("page url");
        let target = origin.join(&action).expect("form target").to_string();
        let mut form: Vec<(&str, &str)> = vec![("flow", flow.as_str())];
        form.extend_from_slice(fields);
        let response = self
            .client
            .post(&target)
            .form(&form)
            .send()
            .await
            .expect("POST");
        Self::page(target, response).await
    }

    /// Signs in on whatever page comes (sign-in, MFA, consent) until the emulator redirects
    /// away; returns that redirect target. `consent` answers the consent page.
    pub async fn sign_in(&self, url: &str, username: &str, password: &str, consent: bool) -> Page {
        let mut page = self.open(url).await;
        for _ in 0..6 {
            if page.status == 302 || page.status == 303 {
                return page;
            }
            page = if page.has("username") {
                self.submit(&page, &[("username", username), ("password", password)])
                    .await
            } else if page.has("consent-accept") {
                self.submit(
                    &page,
                    &[("action", if consent { "accept" } else { "cancel" })],
                )
                .await
            } else {
                return page;
            };
        }
        page
    }

    /// Enters a device code on the emulator's device login page and signs in.
    pub async fn enter_device_code(
        &self,
        verification_uri: &str,
        user_code: &str,
        username: &str,
        password: &str,
        consent: bool,
    ) -> Page {
        let response = self
            .client
            .post(verification_uri)
            .form(&[("otc", user_code)])
            .send()
            .await
            .expect("POST devicelogin");
        let mut page = Self::page(verification_uri.to_owned(), response).await;
        for _ in 0..6 {
            page = if page.has("username") {
                self.submit(&page, &[("username", username), ("password", password)])
                    .await
            } else if page.has("consent-accept") {
                self.submit(
                    &page,
                    &[("action", if consent { "accept" } else { "cancel" })],
                )
                .await
            } else {
                return page;
            };
        }
        page
    }
}
