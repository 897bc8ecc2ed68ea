import { describe, expect, it } from "vitest";
import { explainError, summarizeError } from "./errors";

describe("explainError", () => {
  it("tells a person to sign in again when the saved sign-in is gone", () => {
    const explanation = explainError({ code: "needs_sign_in", message: "Sign in again: AADSTS700082 ...", aadsts: "AADSTS700082" });
    expect(explanation.title).toBe("The sign-in expired from disuse");
    expect(explanation.signIn).toBe(true);
    expect(explanation.aadsts).toBe("AADSTS700082");
    expect(explainError({ code: "needs_sign_in", message: "" })).toMatchObject({ title: "Sign in again", signIn: true });
  });

  it("explains MFA and Conditional Access", () => {
    expect(explainError({ code: "interaction_required", message: "" }).detail).toMatch(/Multi-factor authentication or a Conditional Access/);
    expect(explainError({ code: "interaction_required", message: "", aadsts: "AADSTS50076" }).title).toBe("Multi-factor authentication needed");
    const blocked = explainError({ code: "interaction_required", message: "", aadsts: "AADSTS53003", correlation_id: "abc-123" });
    expect(blocked.title).toMatch(/Conditional Access/);
    expect(blocked.correlationId).toBe("abc-123");
  });

  it("explains missing consent", () => {
    const explanation = explainError({ code: "consent_required", message: "", aadsts: "AADSTS65001" });
    expect(explanation.title).toBe("The app needs your permission first");
    expect(explanation.action).toMatch(/admin consent/);
  });

  it("names the bad credential: client secret, expired secret, password", () => {
    expect(explainError({ code: "bad_credentials", message: "", aadsts: "AADSTS7000215" }).title).toBe("The client secret is wrong");
    expect(explainError({ code: "bad_credentials", message: "", aadsts: "AADSTS7000222" }).title).toBe("The client secret has expired");
    expect(explainError({ code: "bad_credentials", message: "", aadsts: "AADSTS50126" }).title).toBe("Wrong username or password");
    expect(explainError({ code: "bad_credentials", message: "" }).action).toMatch(/secret or certificate/);
  });

  it("gives the redirect URIs to register for AADSTS50011", () => {
    const explanation = explainError({ code: "app_misconfigured", message: "", aadsts: "aadsts50011" });
    expect(explanation.title).toBe("The redirect address is not registered");
    expect(explanation.action).toContain("http://localhost");
    expect(explanation.action).toContain("Mobile and desktop applications");
    expect(explanation.aadsts).toBe("AADSTS50011");
  });

  it("treats cancelling and declining as information, not failure", () => {
    for (const error of [
      { code: "cancelled", message: "" },
      { code: "access_denied", message: "" },
      { code: "sign_in_declined", message: "" },
      { code: "sign_in_declined", message: "", aadsts: "AADSTS65004" },
    ]) {
      const explanation = explainError(error);
      expect(explanation.title, error.code).toBe("Sign-in cancelled");
      expect(explanation.severity).toBe("info");
    }
  });

  it("says when to try again after throttling", () => {
    expect(explainError({ code: "throttled", message: "", retry_after_s: 90 }).action).toBe("Try again in 1 min 30 s.");
    expect(explainError({ code: "throttled", message: "" }).action).toBe("Try again in a little while.");
    expect(explainError({ code: "throttled", message: "" }).severity).toBe("warning");
  });

  it("explains network trouble and a mismatched sign-in answer", () => {
    expect(explainError({ code: "transient", message: "" }).action).toMatch(/connection.*proxy/);
    expect(explainError({ code: "state_mismatch", message: "" }).title).toBe("That address belongs to another sign-in");
  });

  it("lists the candidates of an ambiguous name", () => {
    expect(explainError({ code: "account_ambiguous", message: "", candidates: ["a/x@y", "b/x@y"] }).action).toBe(
      "Name one of them: a/x@y, b/x@y.",
    );
  });

  it("keeps the service's own sentence for refused input and unknown codes", () => {
    expect(explainError({ code: "invalid_input", message: "client_id: must be a GUID", field: "client_id" }).detail).toBe(
      "client_id: must be a GUID",
    );
    const unknown = explainError({ code: "brand_new_code", message: "Something precise." });
    expect(unknown).toMatchObject({ title: "Something went wrong", detail: "Something precise.", code: "brand_new_code" });
  });

  it("explains things that are not backend errors too", () => {
    expect(explainError(new Error("boom"))).toMatchObject({ code: "ui_error", detail: "boom" });
    expect(explainError("text")).toMatchObject({ code: "ui_error", detail: "text" });
  });
});

describe("summarizeError", () => {
  it("is one line with what to do and the most precise code", () => {
    expect(summarizeError({ code: "app_misconfigured", message: "", aadsts: "AADSTS7000218" })).toBe(
      'Public client flows are switched off: In Entra, under Authentication → Advanced settings, turn on "Allow public client flows". (AADSTS7000218)',
    );
    expect(summarizeError({ code: "no_account", message: "no account x" })).toBe(
      "No such account: The service has no account by that name; it may have been signed out elsewhere. (no_account)",
    );
  });
});
