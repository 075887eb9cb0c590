/// The pages of the hosted login (`/oauth/authorize`, `AuthorizationController`): the same layout,
/// stylesheet and content security policy as the self-service pages, and no JavaScript — the
/// second-factor page refreshes itself with `<meta http-equiv="refresh">` — except `passkeys.js`
/// on the second-factor page of a user with a passkey.
extension WebTemplates {
    static let hostedLogin: [String: String] = [
        "authorize-login": authorizeLogin, "authorize-wait": authorizeWait, "authorize-error": authorizeError,
    ]

    static let authorizeLogin = """
        <h1>Sign in to {{clientName}}</h1>
        <p><strong>{{clientName}}</strong> asks to access your account{{#scope}} ({{scope}}){{/scope}}.{{#twoFactor}} You will confirm the sign-in on your phone.{{/twoFactor}}</p>
        <form method="post" action="/oauth/authorize/login" class="card">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <input type="hidden" name="login" value="{{login}}">
        <label for="username">Username</label>
        <input type="text" id="username" name="username" autocomplete="username" required value="{{username}}">
        <label for="password">Password</label>
        <input type="password" id="password" name="password" autocomplete="current-password" required>
        <p><button type="submit" id="sign-in">Sign in</button></p>
        </form>
        """

    static let authorizeWait = """
        <h1>Confirm the sign-in to {{clientName}}</h1>
        {{#passkey}}
        <section class="card" aria-labelledby="passkey-heading">
        <h2 id="passkey-heading">Use your passkey</h2>
        <p>Confirm with the passkey on this computer or phone (fingerprint, face or device PIN).</p>
        <p><button type="button" id="login-passkey" hidden data-passkey-options="/oauth/authorize/passkey/options" data-passkey-finish="/oauth/authorize/passkey" data-passkey-login="{{login}}" data-csrf="{{csrf}}" data-passkey-status="passkey-status">Confirm with a passkey</button></p>
        <p id="passkey-status" class="error" role="alert" hidden></p>
        </section>
        {{/passkey}}
        {{#approval}}
        <section class="card" aria-labelledby="approval-heading">
        <h2 id="approval-heading">Approve on your phone</h2>
        <p>We sent a request to {{devices}}. Open the app, check that it says “{{text}}”, and approve it.</p>
        <dl class="facts">
        <dt>Status</dt><dd><span class="status status-{{status}}" id="login-status">{{status}}</span></dd>
        <dt>Valid until</dt><dd>{{expires}}</dd>
        </dl>
        {{#pending}}<p class="muted">This page checks again every few seconds; <a href="/oauth/authorize/wait?login={{login}}">check now</a>.</p>{{/pending}}
        <form method="post" action="/oauth/authorize/continue">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <input type="hidden" name="login" value="{{login}}">
        <p><button type="submit" id="login-continue"{{#pending}} class="secondary"{{/pending}}>Continue</button></p>
        </form>
        </section>
        {{/approval}}
        {{#sms}}
        <section class="card" aria-labelledby="sms-heading">
        <h2 id="sms-heading">Enter the code from the text message</h2>
        <p>We sent a 6-digit code to your phone number {{phone}}.</p>
        <form method="post" action="/oauth/authorize/otp">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <input type="hidden" name="login" value="{{login}}">
        <label for="otp">Code</label>
        <input type="text" id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required>
        <p><button type="submit" id="login-verify">Confirm</button></p>
        </form>
        </section>
        {{/sms}}
        """

    static let authorizeError = """
        <h1>{{heading}}</h1>
        <p id="authorize-error">{{message}}</p>
        <p>Please go back to the application and start again.</p>
        """
}
