/// The passkey parts of the web pages (issue 17). Each passkey button starts hidden and
/// `passkeys.js` shows it: without the script (or without WebAuthn) the page says what else to
/// do instead of offering a button that cannot work. The buttons carry what the script needs in
/// `data-` attributes: the two JSON routes of the ceremony, the CSRF token, where to say what
/// went wrong, and the extra fields (the hosted login's handle, the approval's data).
extension WebTemplates {
    static let passkeyTemplates: [String: String] = [
        "passkey-sign-in": passkeySignIn, "passkey-add": passkeyAdd, "passkey-approve": passkeyApprove,
        "self-passkey-new": selfPasskeyNew, "self-passkey-confirm": selfPasskeyConfirm, "self-approvals": selfApprovals,
        "self-approval": selfApproval,
    ]

    /// Below the password form of the self-service sign-in: a discoverable passkey, no username.
    static let passkeySignIn = """
        <section class="card" aria-labelledby="passkey-heading">
        <h2 id="passkey-heading">Or use a passkey</h2>
        <p class="muted">Your passkey confirms it is you with your fingerprint, face or device PIN: no password needed.</p>
        <p><button type="button" id="passkey-sign-in" hidden data-passkey-options="/self-service/passkeys/sign-in/options" data-passkey-finish="/self-service/passkeys/sign-in"{{#realm}} data-passkey-realm="{{realm}}"{{/realm}} data-csrf="{{loginCSRF}}" data-passkey-status="passkey-status">Sign in with a passkey</button></p>
        <p id="passkey-status" class="error" role="alert" hidden></p>
        <noscript><p class="muted">Signing in with a passkey needs JavaScript; the password form above works without it.</p></noscript>
        </section>
        """

    /// On the devices page: the way to the "Add a passkey" page (which asks for the step-up first).
    static let passkeyAdd = """
        <section class="card" aria-labelledby="passkey-add-heading">
        <h2 id="passkey-add-heading">Passkeys</h2>
        <p>A passkey on this computer or phone signs you in and approves payments with your fingerprint, face or device PIN.</p>
        <p><a href="/self-service/passkeys/new" id="add-passkey">Add a passkey</a></p>
        </section>
        """

    /// The button that approves the approval `approvalID` with a passkey: it signs
    /// `approve:<id>:<data>`, `data` as shown on the page.
    static let passkeyApprove = """
        <p><button type="button" id="approve-with-passkey" hidden data-passkey-options="/self-service/approvals/{{approvalID}}/passkey/options" data-passkey-finish="/self-service/approvals/{{approvalID}}/passkey" data-passkey-data="{{approvalData}}" data-csrf="{{csrf}}" data-passkey-status="passkey-status">Approve with your passkey</button></p>
        <p id="passkey-status" class="error" role="alert" hidden></p>
        """

    static let selfPasskeyConfirm = """
        <h1>Add a passkey</h1>
        <section class="card">
        <p>A passkey is a new way to confirm it is you, like a new device. Before you add one, we confirm it is you with your phone or a passkey you already have.</p>
        <form method="post" action="/self-service/passkeys/new">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <p><button type="submit" id="confirm-add-passkey">Continue</button></p>
        </form>
        </section>
        <p><a href="/self-service">Cancel</a></p>
        """

    static let selfPasskeyNew = """
        <h1>Add a passkey</h1>
        <section class="card">
        <label for="passkey-name">Name (so that you recognise it in your list of devices)</label>
        <input type="text" id="passkey-name" maxlength="100" autocomplete="off" placeholder="My laptop">
        <p><button type="button" id="create-passkey" hidden data-passkey-options="/self-service/passkeys/registration/options" data-passkey-finish="/self-service/passkeys/registration" data-passkey-name-input="passkey-name" data-csrf="{{csrf}}" data-passkey-status="passkey-status">Create the passkey</button></p>
        <p id="passkey-status" class="error" role="alert" hidden></p>
        <noscript><p class="error">Creating a passkey needs JavaScript in this browser.</p></noscript>
        </section>
        <p><a href="/self-service">Cancel</a></p>
        """

    static let selfApprovals = """
        <h1>Waiting for your approval</h1>
        <ul>
        {{#approvals}}<li><a href="/self-service/approvals/{{id}}" class="mono" data-approval="{{id}}">{{data}}</a> · {{kind}} · {{operationType}} · expires {{expires}}</li>{{/approvals}}
        {{^approvals}}<li class="muted">Nothing is waiting.</li>{{/approvals}}
        </ul>
        """

    /// One approval: what the passkey signs is shown whole, beside its title and message.
    static let selfApproval = """
        <h1>{{kind}} <span class="mono">{{shortID}}</span></h1>
        <section class="card" aria-labelledby="approval-what">
        <h2 id="approval-what">{{#title}}{{title}}{{/title}}{{^title}}What you approve{{/title}}</h2>
        {{#message}}<p id="approval-message">{{message}}</p>{{/message}}
        <dl class="facts">
        <dt>Data</dt><dd class="mono" id="approval-data">{{data}}</dd>
        <dt>Signed by your passkey</dt><dd class="mono" id="approval-signed">{{signed}}</dd>
        <dt>Status</dt><dd><span class="status status-{{status}}" id="approval-status">{{status}}</span></dd>
        <dt>Expires</dt><dd>{{expires}}</dd>
        </dl>
        {{#canUsePasskey}}
        <p><button type="button" id="approve-with-passkey" hidden data-passkey-options="/self-service/approvals/{{id}}/passkey/options" data-passkey-finish="/self-service/approvals/{{id}}/passkey" data-passkey-data="{{data}}" data-csrf="{{csrf}}" data-passkey-status="passkey-status">Approve with your passkey</button></p>
        <p id="passkey-status" class="error" role="alert" hidden></p>
        {{/canUsePasskey}}
        {{#noPasskey}}<p class="muted">Approve it in the app on your phone, or <a href="/self-service/passkeys/new">add a passkey</a> to approve here.</p>{{/noPasskey}}
        {{#canReject}}
        <form method="post" action="/self-service/approvals/{{id}}/reject">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <p><button type="submit" class="danger" id="reject-approval">Reject</button></p>
        </form>
        {{/canReject}}
        </section>
        <p><a href="/self-service/approvals">All waiting approvals</a></p>
        """
}
