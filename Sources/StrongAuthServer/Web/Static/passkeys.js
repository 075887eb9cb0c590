// StrongAuth passkeys: the one script of the web pages (served as /static/passkeys.js, CSP
// script-src 'self'; no inline script or handler anywhere). It wires every
// <button data-passkey-options="…" data-passkey-finish="…" data-csrf="…"> on the page:
//   1. POST the options URL (JSON, X-CSRF-Token) → {ceremonyId, publicKey, …}
//   2. navigator.credentials.create() for "creation" options (they name a user), else .get()
//   3. POST the finish URL with {ceremonyId, credential, …} → {redirect}, then follow it.
// Extra JSON fields come from data-passkey-* attributes: data-passkey-login (the hosted login's
// handle), data-passkey-realm (the sign-in page's realm), data-passkey-data (the approval data shown and signed), data-passkey-name-input (the
// id of an <input> whose value is the passkey's name). Errors go to the element named by
// data-passkey-status (role="alert"), never to the console alone.
(function () {
  "use strict";

  function fromBase64URL(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64URL(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBinaryIDs(list) {
    return (list || []).map(function (descriptor) {
      var copy = Object.assign({}, descriptor);
      copy.id = fromBase64URL(descriptor.id);
      return copy;
    });
  }

  // The JSON options as the browser's API wants them: the WebAuthn L3 parsers where the
  // browser has them, else the few base64url members decoded by hand.
  function creationOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = fromBase64URL(json.challenge);
    options.user = Object.assign({}, json.user, { id: fromBase64URL(json.user.id) });
    options.excludeCredentials = withBinaryIDs(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = fromBase64URL(json.challenge);
    options.allowCredentials = withBinaryIDs(json.allowCredentials);
    return options;
  }

  // RegistrationResponseJSON / AuthenticationResponseJSON: credential.toJSON() where the
  // browser has it, else the same members encoded by hand.
  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    var response = credential.response;
    var encoded = {};
    if (response.attestationObject) {
      encoded.clientDataJSON = toBase64URL(response.clientDataJSON);
      encoded.attestationObject = toBase64URL(response.attestationObject);
      encoded.transports = typeof response.getTransports === "function" ? response.getTransports() : [];
      if (typeof response.getAuthenticatorData === "function") encoded.authenticatorData = toBase64URL(response.getAuthenticatorData());
      if (typeof response.getPublicKeyAlgorithm === "function") encoded.publicKeyAlgorithm = response.getPublicKeyAlgorithm();
      if (typeof response.getPublicKey === "function" && response.getPublicKey()) encoded.publicKey = toBase64URL(response.getPublicKey());
    } else {
      encoded.clientDataJSON = toBase64URL(response.clientDataJSON);
      encoded.authenticatorData = toBase64URL(response.authenticatorData);
      encoded.signature = toBase64URL(response.signature);
      if (response.userHandle) encoded.userHandle = toBase64URL(response.userHandle);
    }
    return {
      id: credential.id,
      rawId: toBase64URL(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: encoded,
    };
  }

  function postJSON(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      // A redirect here is the sign-in page of an ended session, never an answer to follow.
      redirect: "manual",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (response.type === "opaqueredirect") throw new Error("Your session has ended. Please reload the page and sign in again.");
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) {
          var error = new Error(answer.detail || answer.error_description || answer.title || "The server refused it (" + response.status + ").");
          error.answer = answer;
          throw error;
        }
        return answer;
      });
    });
  }

  function extraFields(button) {
    var fields = {};
    if (button.dataset.passkeyLogin) fields.login = button.dataset.passkeyLogin;
    if (button.dataset.passkeyRealm) fields.realm = button.dataset.passkeyRealm;
    if (button.dataset.passkeyData !== undefined) fields.data = button.dataset.passkeyData;
    if (button.dataset.passkeyNameInput) {
      var input = document.getElementById(button.dataset.passkeyNameInput);
      if (input && input.value) fields.name = input.value;
    }
    return fields;
  }

  function show(button, message) {
    var status = button.dataset.passkeyStatus && document.getElementById(button.dataset.passkeyStatus);
    if (status) {
      status.textContent = message;
      status.hidden = false;
    }
  }

  function run(button) {
    var csrf = button.dataset.csrf || "";
    var fields = extraFields(button);
    button.disabled = true;
    show(button, "");
    postJSON(button.dataset.passkeyOptions, csrf, fields)
      .then(function (answer) {
        if (!window.PublicKeyCredential || !navigator.credentials) throw new Error("This browser does not support passkeys.");
        if (!answer.ceremonyId || !answer.publicKey) throw new Error("The server did not start the passkey ceremony. Please reload the page.");
        var created = answer.publicKey && answer.publicKey.user !== undefined;
        var ceremony = created
          ? navigator.credentials.create({ publicKey: creationOptions(answer.publicKey) })
          : navigator.credentials.get({ publicKey: requestOptions(answer.publicKey) });
        return ceremony.then(function (credential) {
          if (!credential) throw new Error("No passkey was used.");
          var body = Object.assign({ ceremonyId: answer.ceremonyId, credential: credentialJSON(credential) }, fields);
          return postJSON(button.dataset.passkeyFinish, csrf, body);
        });
      })
      .then(function (answer) {
        window.location.assign(answer.redirect || window.location.href);
      })
      .catch(function (error) {
        button.disabled = false;
        var cancelled = error && (error.name === "NotAllowedError" || error.name === "AbortError");
        show(button, cancelled ? "The passkey was not used (cancelled or timed out). Please try again." : error.message);
        if (error && error.answer && error.answer.redirect) window.location.assign(error.answer.redirect);
      });
  }

  function wire() {
    var buttons = document.querySelectorAll("button[data-passkey-options]");
    for (var i = 0; i < buttons.length; i++) {
      var button = buttons[i];
      button.hidden = false;
      button.addEventListener("click", function (event) {
        event.preventDefault();
        run(event.currentTarget);
      });
    }
    // Without WebAuthn the buttons say so instead of failing on click.
    if (!window.PublicKeyCredential) {
      var notes = document.querySelectorAll("[data-passkey-unsupported]");
      for (var j = 0; j < notes.length; j++) notes[j].hidden = false;
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
