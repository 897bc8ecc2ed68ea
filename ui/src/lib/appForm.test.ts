import { describe, expect, it } from "vitest";
import type { AppFormValues } from "./appForm";
import {
  cloudOf,
  emptyForm,
  formFieldOf,
  fromApp,
  isDomain,
  readCertificateFile,
  shownFieldFor,
  toAddParams,
  toUpdateParams,
  validateAppForm,
} from "./appForm";
import { sampleApp } from "./testing/fakeTransport";

const GUID = "9b3c1a2e-5a1e-4f0e-9d7a-0c8f2f7a1b11";
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

function form(overrides: Partial<AppFormValues> = {}): AppFormValues {
  return { ...emptyForm(), name: "contoso", client_id: GUID, ...overrides };
}

const adding = { mode: "add" as const, otherNames: ["fabrikam"] };

describe("validateAppForm", () => {
  it("accepts a plain public app", () => {
    expect(validateAppForm(form(), adding)).toEqual({});
  });

  it("checks the name: present, short, without a slash, not taken", () => {
    expect(validateAppForm(form({ name: " " }), adding).name).toMatch(/Give the app a name/);
    expect(validateAppForm(form({ name: "a/b" }), adding).name).toMatch(/“\/”/);
    expect(validateAppForm(form({ name: "x".repeat(101) }), adding).name).toMatch(/100/);
    expect(validateAppForm(form({ name: "Fabrikam" }), adding).name).toBe("Another app already has this name.");
  });

  it("wants the client id as a GUID", () => {
    expect(validateAppForm(form({ client_id: "" }), adding).client_id).toMatch(/Application \(client\) ID/);
    expect(validateAppForm(form({ client_id: "contoso-app" }), adding).client_id).toMatch(/GUID/);
    expect(validateAppForm(form({ client_id: ` ${GUID.toUpperCase()} ` }), adding).client_id).toBeUndefined();
  });

  it("knows the tenant forms, and which flows need a specific tenant", () => {
    for (const tenant of ["common", "Organizations", "consumers", GUID, "contoso.onmicrosoft.com"]) {
      expect(validateAppForm(form({ tenant }), adding).tenant, tenant).toBeUndefined();
    }
    for (const tenant of ["", "contoso", "-bad-.com", "a..b", "1.2"]) {
      expect(validateAppForm(form({ tenant }), adding).tenant, tenant).toBeDefined();
    }
    expect(validateAppForm(form({ flow: "password", tenant: "common" }), adding).tenant).toMatch(/tenant itself/);
    expect(validateAppForm(form({ flow: "credentials", tenant: "organizations", client_secret: "s" }), adding).tenant).toMatch(
      /tenant itself/,
    );
    expect(isDomain("contoso.com")).toBe(true);
  });

  it("wants a custom authority over https (http only on loopback), without credentials or query", () => {
    const custom = (custom_url: string) => validateAppForm(form({ cloud: "custom", custom_url }), adding).custom_url;
    expect(custom("https://login.example.com/")).toBeUndefined();
    expect(custom("http://127.0.0.1:47615")).toBeUndefined();
    expect(custom("")).toMatch(/Enter the authority/);
    expect(custom("login.example.com")).toMatch(/full address/);
    expect(custom("http://login.example.com/")).toMatch(/https/);
    expect(custom("https://me:pw@login.example.com/")).toMatch(/username or password/);
    expect(custom("https://login.example.com/?x=1")).toMatch(/query/);
  });

  it("requires a secret or certificate for confidential flows", () => {
    const tenant = "contoso.onmicrosoft.com";
    expect(validateAppForm(form({ flow: "credentials", tenant, credential: "secret" }), adding).client_secret).toMatch(/Value/);
    expect(validateAppForm(form({ flow: "credentials", tenant, credential: "secret", client_secret: "s3cr3t" }), adding)).toEqual({});
    expect(validateAppForm(form({ flow: "authorization", credential: "certificate" }), adding).certificate).toMatch(/Choose/);
    const noKey = { kind: "pem" as const, fileName: "c.pem", pem: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----" };
    expect(validateAppForm(form({ flow: "authorization", credential: "certificate", certificate: noKey }), adding).certificate).toMatch(
      /private key/,
    );
    const good = { kind: "pem" as const, fileName: "c.pem", pem: PEM };
    expect(validateAppForm(form({ flow: "authorization", credential: "certificate", certificate: good }), adding)).toEqual({});
    expect(validateAppForm(form({ flow: "public", credential: "secret" }), adding)).toEqual({});
  });

  it("lets an edit keep the stored credential, but not when there is none", () => {
    const original = sampleApp({ flow: "credentials", tenant: "contoso.onmicrosoft.com", has_client_secret: true });
    const values = fromApp(original);
    expect(values.credential).toBe("keep");
    expect(validateAppForm(values, { mode: "edit", original, otherNames: [] })).toEqual({});
    const bare = sampleApp({ flow: "public" });
    expect(
      validateAppForm({ ...fromApp(bare), flow: "credentials", tenant: "contoso.onmicrosoft.com", credential: "keep" }, {
        mode: "edit",
        original: bare,
        otherNames: [],
      }).credential,
    ).toMatch(/secret or a certificate/);
  });

  it("checks the Business Central environment and the scopes", () => {
    expect(
      validateAppForm(form({ protocol: { kind: "business_central", environment: " ", tenant_in_url: false } }), adding).protocol,
    ).toMatch(/environment/);
    expect(validateAppForm(form({ default_scopes: ["Mail.Read", "a b"] }), adding).default_scopes).toMatch(/one word/);
  });
});

describe("toAddParams", () => {
  it("sends what apps.add takes, leaving out the default cloud and unused credentials", () => {
    expect(toAddParams(form({ client_secret: "left over" }))).toEqual({
      name: "contoso",
      client_id: GUID,
      tenant: "common",
      flow: "public",
      redirect: "loopback",
      protocol: { kind: "graph", version: "v1.0" },
      default_scopes: ["basic"],
    });
  });

  it("names the cloud or the custom authority, and the credential of a confidential app", () => {
    expect(toAddParams(form({ cloud: "us_gov" })).authority).toBe("us_gov");
    expect(toAddParams(form({ cloud: "custom", custom_url: " https://login.example.com/ " })).authority).toBe("https://login.example.com/");
    const secret = toAddParams(form({ flow: "credentials", tenant: "contoso.com", client_secret: "s3cr3t" }));
    expect(secret).toMatchObject({ flow: "credentials", client_secret: "s3cr3t" });
    expect(secret.redirect).toBeUndefined();
    const pem = toAddParams(form({ flow: "authorization", credential: "certificate", certificate: { kind: "pem", fileName: "c.pem", pem: PEM } }));
    expect(pem.certificate_pem).toBe(PEM);
    expect(pem.client_secret).toBeUndefined();
    const p12 = toAddParams(
      form({ flow: "credentials", credential: "certificate", certificate: { kind: "pkcs12", fileName: "c.pfx", base64: "AAEC" }, pkcs12_password: "pw" }),
    );
    expect(p12).toMatchObject({ pkcs12_base64: "AAEC", pkcs12_password: "pw" });
  });
});

describe("toUpdateParams", () => {
  it("sends only what changed", () => {
    const original = sampleApp();
    expect(toUpdateParams(fromApp(original), original)).toEqual({});
    const values = { ...fromApp(original), default_scopes: ["basic"], redirect: "native_client" as const };
    expect(toUpdateParams(values, original)).toEqual({ default_scopes: ["basic"], redirect: "native_client" });
  });

  it("renames with new_name", () => {
    const original = sampleApp();
    expect(toUpdateParams({ ...fromApp(original), name: "contoso-mail" }, original)).toEqual({ new_name: "contoso-mail" });
  });

  it("replaces the secret, or removes it when the flow no longer takes one", () => {
    const original = sampleApp({ flow: "authorization", has_client_secret: true });
    expect(toUpdateParams({ ...fromApp(original), credential: "secret", client_secret: "new" }, original)).toEqual({ client_secret: "new" });
    expect(toUpdateParams({ ...fromApp(original), flow: "public" }, original)).toEqual({ flow: "public", client_secret: null });
    const toCertificate = toUpdateParams(
      { ...fromApp(original), credential: "certificate", certificate: { kind: "pem", fileName: "c.pem", pem: PEM } },
      original,
    );
    expect(toCertificate).toEqual({ certificate_pem: PEM, client_secret: null });
  });

  it("removes a certificate replaced by a secret, and keeps it otherwise", () => {
    const original = sampleApp({ flow: "credentials", has_certificate: true });
    expect(toUpdateParams({ ...fromApp(original), credential: "secret", client_secret: "new" }, original)).toEqual({
      client_secret: "new",
      remove_certificate: true,
    });
    expect(toUpdateParams({ ...fromApp(original), credential: "none" }, original)).toEqual({ remove_certificate: true });
    expect(toUpdateParams({ ...fromApp(original), default_scopes: ["basic"] }, original)).toEqual({
      default_scopes: ["basic"],
    });
    expect(toUpdateParams({ ...fromApp(original), flow: "public" }, original)).toEqual({ flow: "public" });
  });

  it("sends the cloud only when it was changed (the list cannot tell GCC High from DoD)", () => {
    const original = sampleApp({ authority: "https://login.microsoftonline.us/" });
    expect(fromApp(original).cloud).toBe("us_gov");
    expect(toUpdateParams(fromApp(original), original)).toEqual({});
    expect(toUpdateParams({ ...fromApp(original), cloud: "us_gov_dod" }, original)).toEqual({ authority: "us_gov_dod" });
  });
});

describe("cloudOf", () => {
  it("reads the sign-in host back as a cloud", () => {
    expect(cloudOf("https://login.microsoftonline.com/").cloud).toBe("public");
    expect(cloudOf("https://login.partner.microsoftonline.cn/").cloud).toBe("china");
    expect(cloudOf("http://127.0.0.1:47615/")).toEqual({ cloud: "custom", custom_url: "http://127.0.0.1:47615/" });
    expect(cloudOf("").cloud).toBe("public");
  });
});

describe("service field names", () => {
  it("land on the form's fields", () => {
    expect(formFieldOf("client_id")).toBe("client_id");
    expect(formFieldOf("client id")).toBe("client_id");
    expect(formFieldOf("new_name")).toBe("name");
    expect(formFieldOf("authority")).toBe("cloud");
    expect(formFieldOf("scopes")).toBe("default_scopes");
    expect(formFieldOf("PKCS#12 file")).toBe("certificate");
    expect(formFieldOf("something else")).toBeNull();
    expect(formFieldOf(undefined)).toBeNull();
  });

  it("go to a field the form shows", () => {
    const confidential = form({ flow: "authorization", credential: "certificate" });
    expect(shownFieldFor("client_secret", confidential)).toBe("credential");
    expect(shownFieldFor("client_secret", { ...confidential, credential: "secret" })).toBe("client_secret");
    expect(shownFieldFor("client_secret", form())).toBeNull();
    expect(shownFieldFor("pkcs12_password", confidential)).toBe("certificate");
    expect(shownFieldFor("cloud", form({ cloud: "custom" }))).toBe("custom_url");
    expect(shownFieldFor("redirect", form({ flow: "device_code" }))).toBeNull();
    expect(shownFieldFor("tenant", form())).toBe("tenant");
  });
});

describe("readCertificateFile", () => {
  it("reads PEM as text and PKCS#12 as base64", async () => {
    expect(await readCertificateFile(new File([PEM], "app.pem"))).toEqual({ kind: "pem", fileName: "app.pem", pem: PEM });
    const binary = new Uint8Array([0x30, 0x82, 0x00, 0xff, 0xfe]);
    expect(await readCertificateFile(new File([binary], "app.PFX"))).toEqual({ kind: "pkcs12", fileName: "app.PFX", base64: "MIIA//4=" });
  });
});
