/// The Mustache templates of the web pages, compiled into the binary so that `swift run`, a
/// release build and the tests find them from any working directory. `{{x}}` is HTML-escaped;
/// `{{{content}}}` only ever receives HTML rendered by these templates.
enum WebTemplates {
    static let all: [String: String] = [
        "layout": layout, "error": error, "qr": qr, "timeline": timeline,
        "admin-login": adminLogin, "admin-dashboard": adminDashboard, "admin-users": adminUsers, "admin-user": adminUser,
        "admin-devices": adminDevices, "admin-device": adminDevice, "admin-new-registration": adminNewRegistration,
        "admin-approvals": adminApprovals, "admin-approval": adminApproval, "admin-webhooks": adminWebhooks, "admin-audit": adminAudit,
        "self-login": selfLogin, "self-home": selfHome, "self-device": selfDevice, "device-table": deviceTable,
        "self-step-up": selfStepUp, "self-account": selfAccount,
        "approval-table": approvalTable,
    ].merging(hostedLogin) { $1 }.merging(passkeyTemplates) { $1 }

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        {{#refreshSeconds}}<meta http-equiv="refresh" content="{{refreshSeconds}}">{{/refreshSeconds}}
        <title>{{title}} · StrongAuth {{areaName}}</title>
        <link rel="stylesheet" href="/admin/assets/app.css">
        {{#script}}<script src="{{script}}" defer></script>{{/script}}
        </head>
        <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
        <span class="brand">StrongAuth {{areaName}}</span>
        {{#signedIn}}
        <nav aria-label="Main">
        <ul>{{#nav}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a></li>{{/nav}}</ul>
        </nav>
        <form method="post" action="{{logoutPath}}" class="logout">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <span>Signed in as <strong>{{who}}</strong></span>
        <button type="submit" class="secondary">Sign out</button>
        </form>
        {{/signedIn}}
        </header>
        <main id="main" tabindex="-1">
        {{#flash}}<p class="flash" role="status">{{flash}}</p>{{/flash}}
        {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
        {{{content}}}
        </main>
        <footer>StrongAuth · sessions end after {{idleMinutes}} minutes without activity</footer>
        </body>
        </html>
        """

    static let error = """
        <h1>{{heading}}</h1>
        <p>{{message}}</p>
        <p><a href="{{back}}">Back</a></p>
        """

    static let qr = """
        {{#activation}}
        <section class="card" aria-labelledby="activation-heading">
        <h2 id="activation-heading">Activate the phone</h2>
        <figure class="qr">
        <img id="activation-qr" src="{{qrDataURI}}" alt="QR code of the activation code {{code}}" width="264" height="264">
        <figcaption>
        <p>Scan the QR code with the mobile app, or type the activation code:</p>
        <p class="code mono" id="activation-code">{{code}}</p>
        <p class="muted">Valid until {{expiresAt}}. The status on this page changes to ACTIVE once the phone has activated; <a href="{{refresh}}">refresh</a>.</p>
        </figcaption>
        </figure>
        </section>
        {{/activation}}
        """

    static let timeline = """
        <ol class="timeline">
        {{#events}}<li><time datetime="{{iso}}">{{time}}</time> · <strong>{{action}}</strong> <span class="status status-{{outcome}}">{{outcome}}</span> · {{actor}}{{#details}} · <span class="muted">{{details}}</span>{{/details}}</li>
        {{/events}}
        {{^events}}<li class="muted">Nothing recorded yet.</li>{{/events}}
        </ol>
        """

    static let adminLogin = """
        <h1>Operator sign-in</h1>
        <form method="post" action="/admin/login" class="card">
        <input type="hidden" name="_csrf" value="{{loginCSRF}}">
        <label for="username">Username</label>
        <input type="text" id="username" name="username" autocomplete="username" required value="{{username}}">
        <label for="password">Password</label>
        <input type="password" id="password" name="password" autocomplete="current-password" required>
        <label for="totp">Authenticator code</label>
        <input type="text" id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" required aria-describedby="totp-help">
        <p id="totp-help" class="muted">The 6-digit code from your authenticator app.</p>
        <p><button type="submit">Sign in</button></p>
        </form>
        """

    static let adminDashboard = """
        <h1>Dashboard</h1>
        <div class="grid">
        <div class="card"><span class="stat" id="count-users">{{users}}</span> users</div>
        <div class="card"><span class="stat" id="count-active">{{active}}</span> active devices</div>
        <div class="card"><span class="stat">{{blocked}}</span> blocked devices</div>
        <div class="card"><span class="stat">{{waiting}}</span> awaiting activation</div>
        <div class="card"><span class="stat">{{pendingApprovals}}</span> pending approvals</div>
        <div class="card"><span class="stat">{{deadWebhooks}}</span> dead webhook deliveries</div>
        </div>
        <h2>Recent failures</h2>
        <div class="table-wrap"><table>
        <caption class="muted">The newest failed events of the audit log</caption>
        <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Action</th><th scope="col">Actor</th><th scope="col">Subject</th><th scope="col">Details</th></tr></thead>
        <tbody>
        {{#failures}}<tr><td>{{sequence}}</td><td>{{time}}</td><td>{{action}}</td><td class="mono">{{actor}}</td><td class="mono">{{subject}}</td><td>{{details}}</td></tr>{{/failures}}
        {{^failures}}<tr><td colspan="6" class="muted">No failures recorded.</td></tr>{{/failures}}
        </tbody></table></div>
        """

    static let adminUsers = """
        <h1>Users</h1>
        <form method="get" action="/admin/users" class="card" role="search">
        <label for="q">Username or user id</label>
        <span class="inline"><input type="search" id="q" name="q" value="{{query}}"> <button type="submit">Search</button></span>
        </form>
        <div class="table-wrap"><table>
        <thead><tr><th scope="col">Username</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
        <tbody>
        {{#users}}<tr><td><a href="/admin/users/{{id}}">{{username}}</a></td><td>{{status}}{{#locked}} · <span class="status status-BLOCKED">locked</span>{{/locked}}</td><td>{{created}}</td></tr>{{/users}}
        {{^users}}<tr><td colspan="3" class="muted">No users found.</td></tr>{{/users}}
        </tbody></table></div>
        """

    static let adminUser = """
        <h1>User {{username}}</h1>
        <section class="card" aria-labelledby="facts">
        <h2 id="facts">Details</h2>
        <dl class="facts">
        <dt>User id</dt><dd class="mono">{{id}}</dd>
        <dt>Status</dt><dd>{{status}}</dd>
        <dt>Phone</dt><dd>{{phone}}</dd>
        <dt>E-mail</dt><dd>{{email}}</dd>
        <dt>Password</dt><dd>{{#passwordLocked}}<span class="status status-BLOCKED">locked until {{passwordLocked}}</span>{{/passwordLocked}}{{^passwordLocked}}{{failedAttempts}} consecutive failures{{/passwordLocked}}</dd>
        <dt>Device binding</dt><dd>{{#bindingLocked}}<span class="status status-BLOCKED">locked until {{bindingLocked}}</span>{{/bindingLocked}}{{^bindingLocked}}not locked{{/bindingLocked}}</dd>
        <dt>Created</dt><dd>{{created}}</dd>
        </dl>
        <form method="post" action="/admin/users/{{id}}/unlock" class="inline">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <button type="submit" class="secondary">Unlock password and device binding</button>
        </form>
        <form method="get" action="/admin/registrations/new" class="inline">
        <input type="hidden" name="userId" value="{{username}}">
        <button type="submit">New PowerAuth registration</button>
        </form>
        </section>
        <h2>Devices</h2>
        {{> device-table}}
        <h2>Approvals</h2>
        {{> approval-table}}
        <h2>Audit trail</h2>
        {{> timeline}}
        """

    static let deviceTable = """
        <div class="table-wrap"><table>
        <thead><tr><th scope="col">Device</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Fingerprint</th><th scope="col">Last used</th>{{#showUser}}<th scope="col">User</th>{{/showUser}}</tr></thead>
        <tbody>
        {{#devices}}<tr><td><a href="{{href}}">{{label}}</a></td><td>{{kind}}</td><td><span class="status status-{{status}}" data-device-status="{{id}}">{{status}}</span>{{#blockedReason}} <span class="muted">({{blockedReason}})</span>{{/blockedReason}}</td><td class="mono">{{fingerprint}}</td><td>{{lastUsed}}</td>{{#showUser}}<td><a href="/admin/users/{{userID}}">{{userLabel}}</a></td>{{/showUser}}</tr>{{/devices}}
        {{^devices}}<tr><td colspan="6" class="muted">No devices.</td></tr>{{/devices}}
        </tbody></table></div>
        """

    static let approvalTable = """
        <div class="table-wrap"><table>
        <thead><tr><th scope="col">Approval</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Data</th><th scope="col">Created</th></tr></thead>
        <tbody>
        {{#approvals}}<tr><td><a href="/admin/approvals/{{id}}" class="mono">{{shortID}}</a></td><td>{{kind}}</td><td><span class="status status-{{status}}">{{status}}</span></td><td class="mono">{{data}}</td><td>{{created}}</td></tr>{{/approvals}}
        {{^approvals}}<tr><td colspan="5" class="muted">No approvals.</td></tr>{{/approvals}}
        </tbody></table></div>
        """

    static let adminDevices = """
        <h1>Devices and registrations</h1>
        <form method="get" action="/admin/devices" class="card">
        <label for="status">Status</label>
        <span class="inline"><select id="status" name="status">
        {{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statuses}}
        </select> <button type="submit">Filter</button></span>
        <p><a href="/admin/registrations/new">New PowerAuth registration</a></p>
        </form>
        {{> device-table}}
        """

    static let adminDevice = """
        <h1>{{kindName}}: {{label}}</h1>
        <p><a href="/admin/users/{{userID}}">User {{userLabel}}</a></p>
        {{> qr}}
        <section class="card" aria-labelledby="facts">
        <h2 id="facts">Details</h2>
        <dl class="facts">
        <dt>Id</dt><dd class="mono" id="device-id">{{id}}</dd>
        <dt>Status</dt><dd><span class="status status-{{status}}" id="device-status">{{status}}</span>{{#blockedReason}} <span class="muted" id="blocked-reason">{{blockedReason}}</span>{{/blockedReason}}</dd>
        {{#application}}<dt>Application</dt><dd>{{application}}</dd>{{/application}}
        {{#fingerprint}}<dt>Fingerprint</dt><dd class="mono" id="fingerprint">{{fingerprint}}</dd>{{/fingerprint}}
        {{#platform}}<dt>Platform</dt><dd>{{platform}} {{deviceInfo}}</dd>{{/platform}}
        {{#failures}}<dt>Failed signatures</dt><dd>{{failures}}</dd>{{/failures}}
        <dt>Created</dt><dd>{{created}}</dd>
        <dt>Last used</dt><dd>{{lastUsed}}</dd>
        </dl>
        </section>
        <section class="card" aria-labelledby="actions">
        <h2 id="actions">Actions</h2>
        {{#canBlock}}
        <form method="post" action="{{actionBase}}/block" class="inline">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <span><label for="reason">Reason</label>
        <select id="reason" name="reason">{{#reasons}}<option value="{{.}}">{{.}}</option>{{/reasons}}</select></span>
        <button type="submit" id="block">Block</button>
        </form>
        {{/canBlock}}
        {{#canUnblock}}
        <form method="post" action="{{actionBase}}/unblock" class="inline">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <button type="submit" id="unblock">Unblock</button>
        </form>
        {{/canUnblock}}
        {{#canRemove}}
        <form method="post" action="{{actionBase}}/remove" class="inline">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <button type="submit" class="danger" id="remove">Remove</button>
        </form>
        {{/canRemove}}
        {{^canRemove}}<p class="muted">A removed device cannot be changed.</p>{{/canRemove}}
        </section>
        <h2>Status timeline</h2>
        {{> timeline}}
        """

    static let adminNewRegistration = """
        <h1>New PowerAuth registration</h1>
        {{#noApplications}}<p class="error" role="alert">There is no active application: create one with <code>strongauth apps create</code>.</p>{{/noApplications}}
        <form method="post" action="/admin/registrations" class="card">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <label for="userId">User id (the username)</label>
        <input type="text" id="userId" name="userId" required value="{{userId}}" aria-describedby="user-help">
        <p id="user-help" class="muted">The user is created on first use, as with the integration API.</p>
        <label for="applicationId">Application</label>
        <select id="applicationId" name="applicationId">{{#applications}}<option value="{{id}}">{{name}} ({{id}})</option>{{/applications}}</select>
        <p><button type="submit" id="create-registration">Create registration</button></p>
        </form>
        """

    static let adminApprovals = """
        <h1>Operations and action requests</h1>
        {{> approval-table}}
        """

    static let adminApproval = """
        <h1>{{kindName}} <span class="mono">{{shortID}}</span></h1>
        <section class="card">
        <dl class="facts">
        <dt>Id</dt><dd class="mono">{{id}}</dd>
        <dt>Status</dt><dd><span class="status status-{{status}}">{{status}}</span>{{#statusReason}} ({{statusReason}}){{/statusReason}}</dd>
        <dt>User</dt><dd><a href="/admin/users/{{userID}}">{{externalUserID}}</a></dd>
        <dt>{{ownerKind}}</dt><dd>{{owner}}</dd>
        <dt>Type</dt><dd>{{operationType}} ({{template}})</dd>
        <dt>Data shown and signed</dt><dd class="mono">{{data}}</dd>
        <dt>Failures</dt><dd>{{failureCount}} of {{maxFailureCount}}</dd>
        <dt>Created</dt><dd>{{created}}</dd>
        <dt>Expires</dt><dd>{{expires}}</dd>
        </dl>
        </section>
        <h2>Status timeline</h2>
        {{> timeline}}
        """

    static let adminWebhooks = """
        <h1>Webhook deliveries</h1>
        <div class="table-wrap"><table>
        <thead><tr><th scope="col">Created</th><th scope="col">Event</th><th scope="col">Subscriber</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
        <tbody>
        {{#deliveries}}<tr><td>{{created}}</td><td>{{eventType}}<br><span class="mono muted">{{url}}</span></td><td class="mono">{{subscriber}}</td><td><span class="status status-{{status}}">{{status}}</span></td><td>{{attempts}}</td><td>{{lastAnswer}}</td>
        <td>{{#dead}}<form method="post" action="/admin/webhooks/{{id}}/retry"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" class="secondary">Retry</button></form>{{/dead}}</td></tr>{{/deliveries}}
        {{^deliveries}}<tr><td colspan="7" class="muted">No deliveries.</td></tr>{{/deliveries}}
        </tbody></table></div>
        """

    static let adminAudit = """
        <h1>Audit log</h1>
        <section class="card" aria-labelledby="chain">
        <h2 id="chain">Hash chain</h2>
        {{#verification}}<p id="chain-status" class="{{class}}" role="status">{{text}}</p>{{/verification}}
        <form method="get" action="/admin/audit"><input type="hidden" name="verify" value="1"><button type="submit" id="verify-chain">Verify the whole chain</button></form>
        </section>
        <div class="table-wrap"><table>
        <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Action</th><th scope="col">Outcome</th><th scope="col">Actor</th><th scope="col">Subject</th><th scope="col">Details</th><th scope="col">Hash</th></tr></thead>
        <tbody>
        {{#events}}<tr><td>{{sequence}}</td><td>{{time}}</td><td>{{action}}</td><td><span class="status status-{{outcome}}">{{outcome}}</span></td><td class="mono">{{actor}}</td><td class="mono">{{subject}}</td><td>{{details}}</td><td class="mono" title="{{hash}}">{{shortHash}}</td></tr>{{/events}}
        </tbody></table></div>
        {{#older}}<p><a href="/admin/audit?before={{older}}">Older events</a></p>{{/older}}
        <h2 id="failure-windows">Failed authentications being counted</h2>
        <div class="table-wrap"><table aria-labelledby="failure-windows">
        <caption class="muted">Counted per window and source; each row becomes one audit event with its count when its window is over</caption>
        <thead><tr><th scope="col">Window</th><th scope="col">Action</th><th scope="col">Actor</th><th scope="col">Subject</th><th scope="col">Source</th><th scope="col">Reason</th><th scope="col">Count</th><th scope="col">Last</th></tr></thead>
        <tbody>
        {{#failureWindows}}<tr><td>{{window}}</td><td>{{action}}</td><td class="mono">{{actor}}</td><td class="mono">{{subject}}</td><td class="mono">{{source}}</td><td>{{reason}}</td><td>{{count}}</td><td>{{lastSeen}}</td></tr>{{/failureWindows}}
        {{^failureWindows}}<tr><td colspan="8" class="muted">None.</td></tr>{{/failureWindows}}
        </tbody></table></div>
        """

    static let selfLogin = """
        <h1>Your devices</h1>
        <form method="post" action="/self-service/login" class="card">
        <input type="hidden" name="_csrf" value="{{loginCSRF}}">
        {{#realm}}<input type="hidden" name="realm" value="{{realm}}">{{/realm}}
        <label for="username">Username</label>
        <input type="text" id="username" name="username" autocomplete="username" required value="{{username}}">
        <label for="password">Password</label>
        <input type="password" id="password" name="password" autocomplete="current-password" required>
        <p><button type="submit">Sign in</button></p>
        </form>
        {{> passkey-sign-in}}
        """

    static let selfHome = """
        <h1>Your devices</h1>
        <div class="table-wrap"><table>
        <thead><tr><th scope="col">Device</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Activated</th><th scope="col">Last used</th><th scope="col"><span class="muted">Actions</span></th></tr></thead>
        <tbody>
        {{#devices}}<tr><td><a href="/self-service/devices/{{id}}">{{label}}</a></td><td>{{kind}}</td><td><span class="status status-{{status}}" data-device-status="{{id}}">{{status}}</span></td><td>{{activated}}</td><td>{{lastUsed}}</td>
        <td>{{#canBlock}}<form method="post" action="/self-service/devices/{{id}}/block" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="reason" value="USER_REQUEST"><button type="submit" class="secondary" aria-label="Block {{label}}">Block</button></form>{{/canBlock}}
        <form method="post" action="/self-service/devices/{{id}}/remove" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" class="danger" aria-label="Remove {{label}}" data-remove="{{id}}">Remove</button></form></td></tr>{{/devices}}
        {{^devices}}<tr><td colspan="6" class="muted">You have no devices yet.</td></tr>{{/devices}}
        </tbody></table></div>
        <section class="card" aria-labelledby="new-device">
        <h2 id="new-device">Activate a new device</h2>
        {{#hasApplications}}
        <form method="post" action="/self-service/devices">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        {{#chooseApplication}}<label for="applicationId">App</label>
        <select id="applicationId" name="applicationId">{{#applications}}<option value="{{id}}">{{name}}</option>{{/applications}}</select>{{/chooseApplication}}
        {{^chooseApplication}}{{#applications}}<input type="hidden" name="applicationId" value="{{id}}">{{/applications}}{{/chooseApplication}}
        <p><button type="submit" id="activate-new">Show an activation code</button></p>
        </form>
        {{/hasApplications}}
        {{^hasApplications}}<p class="muted">No mobile app is set up yet.</p>{{/hasApplications}}
        </section>
        {{> passkey-add}}
        <h2>Waiting for your approval</h2>
        <p class="muted">Approve or reject these in the app on one of your devices, or here with a passkey.</p>
        <ul>
        {{#approvals}}<li><a href="/self-service/approvals/{{id}}" class="mono" data-approval="{{id}}">{{data}}</a> · {{operationType}} · expires {{expires}}</li>{{/approvals}}
        {{^approvals}}<li class="muted">Nothing is waiting.</li>{{/approvals}}
        </ul>
        """

    /// The step-up page (docs/security-model.md): the approval pushed to the user's device (the page reloads
    /// itself every few seconds while it waits: no scripts) or the SMS code form.
    static let selfAccount = """
        <h1>Your account</h1>
        <section class="card" aria-labelledby="phone-heading">
        <h2 id="phone-heading">Phone number</h2>
        {{#hasPhone}}<p>Text messages go to <span id="current-phone">{{phone}}</span>.</p>{{/hasPhone}}
        {{^hasPhone}}<p class="muted">No phone number is registered.</p>{{/hasPhone}}
        <form method="post" action="/self-service/account/phone">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <label for="phone">New phone number, international (for example +4915112345678)</label>
        <input type="tel" id="phone" name="phone" autocomplete="tel" maxlength="16" required>
        <p><button type="submit" id="change-phone">Change the phone number</button></p>
        </form>
        </section>
        <section class="card" aria-labelledby="password-heading">
        <h2 id="password-heading">Password</h2>
        {{#canChangePassword}}
        <form method="post" action="/self-service/account/password">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <label for="current-password">Current password</label>
        <input type="password" id="current-password" name="current" autocomplete="current-password" required>
        <label for="new-password">New password</label>
        <input type="password" id="new-password" name="new" autocomplete="new-password" minlength="6" maxlength="72" required>
        <label for="repeat-password">New password again</label>
        <input type="password" id="repeat-password" name="repeat" autocomplete="new-password" required>
        <p><button type="submit" id="change-password">Change the password</button></p>
        </form>
        <p class="muted">Your apps will ask you to sign in again; other browsers are signed out.</p>
        {{/canChangePassword}}
        {{^canChangePassword}}
        <p>Before you change your password, we confirm it is you with your phone.</p>
        <form method="post" action="/self-service/account/password">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <p><button type="submit" id="confirm-password-change">Change the password</button></p>
        </form>
        {{/canChangePassword}}
        </section>
        <section class="card" aria-labelledby="delete-heading">
        <h2 id="delete-heading">Delete your account</h2>
        <p>Your devices are removed, every app and browser is signed out, and you cannot sign in again. This cannot be undone.</p>
        <form method="post" action="/self-service/account/delete">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <p><button type="submit" class="danger" id="delete-account">Delete my account</button></p>
        </form>
        </section>
        """

    static let selfStepUp = """
        <h1>Confirm it is you</h1>
        <p>You signed in with your password. Before we do this, we need a second factor: <strong id="step-up-action">{{actionText}}</strong>.</p>
        {{#approval}}
        <section class="card" aria-labelledby="approval-heading">
        <h2 id="approval-heading">Approve on your phone</h2>
        <p>We sent a request to {{devices}}. Open the app, check that it says “{{actionText}}”, and approve it.</p>
        <dl class="facts">
        <dt>Status</dt><dd><span class="status status-{{status}}" id="step-up-status">{{status}}</span></dd>
        <dt>Valid until</dt><dd>{{expires}}</dd>
        </dl>
        {{#pending}}<p class="muted">This page checks again every few seconds; <a href="/self-service/step-up">check now</a>.</p>{{/pending}}
        {{#passkeyApproval}}{{> passkey-approve}}{{/passkeyApproval}}
        {{#approved}}<form method="post" action="/self-service/step-up/continue">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <p><button type="submit" id="step-up-continue">Continue</button></p>
        </form>{{/approved}}
        {{#ended}}<p>This request is {{status}}. Start again from <a href="/self-service">your devices</a> or <a href="/self-service/account">your account</a>.</p>{{/ended}}
        </section>
        {{/approval}}
        {{#sms}}
        <section class="card" aria-labelledby="sms-heading">
        <h2 id="sms-heading">Enter the code from the text message</h2>
        <p>We sent a 6-digit code to your phone number {{phone}}. It is valid until {{expires}}.</p>
        <form method="post" action="/self-service/step-up/otp">
        <input type="hidden" name="_csrf" value="{{csrf}}">
        <label for="otp">Code</label>
        <input type="text" id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required>
        <p><button type="submit" id="step-up-verify">Confirm</button></p>
        </form>
        </section>
        {{/sms}}
        <p><a href="/self-service">Cancel</a></p>
        """

    static let selfDevice = """
        <h1>{{label}}</h1>
        <p><a href="/self-service">All your devices</a></p>
        {{> qr}}
        <section class="card">
        <dl class="facts">
        <dt>Status</dt><dd><span class="status status-{{status}}" id="device-status">{{status}}</span></dd>
        {{#fingerprint}}<dt>Fingerprint</dt><dd class="mono">{{fingerprint}}</dd>{{/fingerprint}}
        <dt>Created</dt><dd>{{created}}</dd>
        <dt>Last used</dt><dd>{{lastUsed}}</dd>
        </dl>
        {{#canBlock}}<form method="post" action="/self-service/devices/{{id}}/block" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><input type="hidden" name="reason" value="USER_REQUEST"><button type="submit" class="secondary">Block</button></form>{{/canBlock}}
        {{#canRemove}}<form method="post" action="/self-service/devices/{{id}}/remove" class="inline"><input type="hidden" name="_csrf" value="{{csrf}}"><button type="submit" class="danger">Remove</button></form>{{/canRemove}}
        </section>
        """
}
