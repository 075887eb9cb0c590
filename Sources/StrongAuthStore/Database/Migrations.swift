import Foundation
import SQLKit
import StrongAuthCore

/// One schema change. `statements` run on both engines; `sqliteOnly`/`postgresOnly` hold the
/// few statements whose syntax differs (triggers).
struct Migration: Sendable {
    var version: Int
    var name: String
    var statements: [String]
    var sqliteOnly: [String] = []
    var postgresOnly: [String] = []
}

/// Applies the schema, in order, exactly once per database — safe when several nodes start at once.
public enum Migrator {
    /// Applies every pending migration in one transaction; returns the names applied.
    @discardableResult
    public static func migrate(_ pool: any DatabasePool) async throws -> [String] {
        try await migrate(pool, only: all)
    }

    /// Applies the pending ones of `migrations` (tests stop before a migration to check how it
    /// carries existing rows over).
    @discardableResult
    static func migrate(_ pool: any DatabasePool, only migrations: [Migration]) async throws -> [String] {
        let engine = pool.engine
        return try await pool.withTransaction { db in
            if engine == .postgres {
                // Two nodes migrating at once: the second waits, then finds nothing to do.
                try await db.sql("SELECT pg_advisory_xact_lock(727001)").run()
            }
            try await db.sql(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
            ).run()
            let applied = Set(
                try await db.sql("SELECT version FROM schema_migrations").all().map { try $0.decode(column: "version", as: Int.self) })
            var names: [String] = []
            for migration in migrations where !applied.contains(migration.version) {
                let specific = engine == .sqlite ? migration.sqliteOnly : migration.postgresOnly
                for statement in migration.statements + specific {
                    try await db.sql(StoreSQL(statement)).run()
                }
                try await db.sql(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Date().epochMilliseconds))"
                ).run()
                names.append(migration.name)
            }
            return names
        }
    }

    /// The schema, oldest first. Never edit a released migration: add a new one.
    static let all: [Migration] = [
        Migration(
            version: 1, name: "oauth-core",
            statements: [
                """
                CREATE TABLE clients (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL,
                    grants TEXT NOT NULL, scopes TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
                    phone TEXT, email TEXT, owner_client_id TEXT, status TEXT NOT NULL,
                    failed_password_attempts INTEGER NOT NULL DEFAULT 0, password_locked_until BIGINT,
                    created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE token_families (
                    id TEXT PRIMARY KEY, client_id TEXT NOT NULL, user_id TEXT NOT NULL,
                    created_at BIGINT NOT NULL, revoked_at BIGINT)
                """,
                "CREATE INDEX token_families_user ON token_families (user_id)",
                """
                CREATE TABLE refresh_tokens (
                    id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE,
                    family_id TEXT NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
                    client_id TEXT NOT NULL, user_id TEXT NOT NULL, scopes TEXT NOT NULL, amr TEXT NOT NULL,
                    issued_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT)
                """,
                "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
                """
                CREATE TABLE revoked_access_tokens (
                    jti TEXT PRIMARY KEY, expires_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE signing_keys (
                    kid TEXT PRIMARY KEY, sealed_private_key TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
                // One active signing key at a time: nodes starting together on an empty database
                // agree on one key instead of each signing with a key the others do not know.
                "CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (status) WHERE status = 'active'",
                """
                CREATE TABLE audit_events (
                    sequence BIGINT PRIMARY KEY, occurred_at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                    subject TEXT, source_address TEXT, outcome TEXT NOT NULL, details TEXT NOT NULL,
                    previous_hash TEXT NOT NULL, hash TEXT NOT NULL)
                """,
            ],
            // The audit log is append-only in the database itself, not just by convention.
            sqliteOnly: [
                "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
                "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
            ],
            postgresOnly: [
                """
                CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$
                """,
                "CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
            ]),
        Migration(
            version: 2, name: "devices",
            statements: [
                """
                CREATE TABLE devices (
                    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
                    public_key TEXT NOT NULL, status TEXT NOT NULL, blocked_reason TEXT,
                    created_at BIGINT NOT NULL, activated_at BIGINT, last_used_at BIGINT)
                """,
                "CREATE INDEX devices_user ON devices (user_id)",
                """
                CREATE TABLE challenges (
                    id TEXT PRIMARY KEY, kind TEXT NOT NULL, user_id TEXT NOT NULL, device_id TEXT NOT NULL,
                    payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    max_attempts INTEGER NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)
                """,
                "CREATE INDEX challenges_device ON challenges (device_id)",
                """
                CREATE TABLE notifications (
                    id TEXT PRIMARY KEY, kind TEXT NOT NULL, user_id TEXT NOT NULL, recipient TEXT NOT NULL,
                    sealed_body TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at BIGINT NOT NULL, created_at BIGINT NOT NULL, sent_at BIGINT)
                """,
                "CREATE INDEX notifications_due ON notifications (status, next_attempt_at)",
                // A refresh-token family confirmed by a device lives only as long as the device is ACTIVE.
                "ALTER TABLE token_families ADD COLUMN device_id TEXT",
                // Wrong answers to binding challenges, counted per user (their own factor).
                "ALTER TABLE users ADD COLUMN failed_binding_attempts INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE users ADD COLUMN binding_locked_until BIGINT",
            ]),
        Migration(
            version: 3, name: "powerauth",
            statements: [
                """
                CREATE TABLE powerauth_applications (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, application_key TEXT NOT NULL UNIQUE,
                    sealed_application_secret TEXT NOT NULL, sealed_master_private_key TEXT NOT NULL,
                    master_public_key TEXT NOT NULL, callback_url TEXT, sealed_callback_secret TEXT,
                    status TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
                """
                CREATE TABLE integration_users (
                    name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, applications TEXT NOT NULL,
                    status TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
                // The counter and the failure count sit on the device row with its status, so
                // accepting a counter value, counting a failure and blocking are one update.
                "ALTER TABLE devices ADD COLUMN ctr_data TEXT",
                "ALTER TABLE devices ADD COLUMN counter BIGINT NOT NULL DEFAULT 0",
                "ALTER TABLE devices ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE devices ADD COLUMN max_failed_attempts INTEGER NOT NULL DEFAULT 5",
                // The counter values last moved past (Base64 of 16-byte values, newest first): replays are told from guesses.
                "ALTER TABLE devices ADD COLUMN ctr_history TEXT",
                """
                CREATE TABLE powerauth_activations (
                    device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
                    application_id TEXT NOT NULL, activation_code TEXT UNIQUE, activation_code_signature TEXT,
                    expires_at BIGINT NOT NULL, otp_hash TEXT, otp_validation TEXT NOT NULL, commit_phase TEXT NOT NULL,
                    flags TEXT NOT NULL, platform TEXT, device_info TEXT, extras TEXT, server_public_key TEXT,
                    sealed_server_private_key TEXT, sealed_derived_keys TEXT, protocol_version TEXT)
                """,
                "CREATE INDEX powerauth_activations_application ON powerauth_activations (application_id)",
                """
                CREATE TABLE powerauth_tokens (
                    id TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
                    sealed_secret TEXT NOT NULL, signature_type TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
                "CREATE INDEX powerauth_tokens_device ON powerauth_tokens (device_id)",
                """
                CREATE TABLE webhook_deliveries (
                    id TEXT PRIMARY KEY, application_id TEXT NOT NULL, url TEXT NOT NULL, event_type TEXT NOT NULL,
                    body TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at BIGINT NOT NULL, created_at BIGINT NOT NULL, delivered_at BIGINT,
                    last_response_status INTEGER, last_error TEXT)
                """,
                "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
                """
                CREATE TABLE powerauth_temporary_keys (
                    id TEXT PRIMARY KEY, application_id TEXT NOT NULL, activation_id TEXT,
                    sealed_private_key TEXT NOT NULL, expires_at BIGINT NOT NULL)
                """,
                "CREATE INDEX powerauth_temporary_keys_expiry ON powerauth_temporary_keys (expires_at)",
            ]),
        Migration(
            version: 4, name: "approvals",
            statements: [
                """
                CREATE TABLE operation_templates (
                    application_id TEXT NOT NULL, name TEXT NOT NULL, operation_type TEXT NOT NULL, data_template TEXT NOT NULL,
                    expiration_seconds INTEGER NOT NULL, max_failure_count INTEGER NOT NULL, signature_types TEXT NOT NULL,
                    PRIMARY KEY (application_id, name))
                """,
                """
                CREATE TABLE approvals (
                    id TEXT PRIMARY KEY, kind TEXT NOT NULL, user_id TEXT NOT NULL, external_user_id TEXT NOT NULL,
                    application_id TEXT, template TEXT NOT NULL, operation_type TEXT NOT NULL, parameters TEXT NOT NULL,
                    data TEXT NOT NULL, status TEXT NOT NULL, failure_count INTEGER NOT NULL DEFAULT 0,
                    max_failure_count INTEGER NOT NULL, signature_types TEXT NOT NULL, external_id TEXT, status_reason TEXT,
                    created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)
                """,
                "CREATE INDEX approvals_user ON approvals (user_id, status, expires_at)",
                "ALTER TABLE approvals ADD COLUMN client_id TEXT",
                "ALTER TABLE approvals ADD COLUMN payload TEXT",
                // Short-lived action tokens (Shine): stored by hash, bound to action and payload, used once.
                """
                CREATE TABLE action_tokens (
                    token_hash TEXT PRIMARY KEY, approval_id TEXT NOT NULL, client_id TEXT NOT NULL, action TEXT NOT NULL,
                    payload_hash TEXT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT)
                """,
            ]),
        Migration(
            version: 5, name: "client-webhooks",
            statements: [
                // Webhooks for OAuth clients too (action requests), not only PowerAuth applications.
                "ALTER TABLE clients ADD COLUMN webhook_url TEXT",
                "ALTER TABLE clients ADD COLUMN sealed_webhook_secret TEXT",
                "ALTER TABLE webhook_deliveries RENAME COLUMN application_id TO subscriber_id",
                "ALTER TABLE webhook_deliveries ADD COLUMN subscriber_kind TEXT NOT NULL DEFAULT 'application'",
                "CREATE INDEX webhook_deliveries_subscriber ON webhook_deliveries (subscriber_kind, subscriber_id, created_at)",
            ]),
        Migration(
            version: 6, name: "sessions",
            statements: [
                // ABN AMRO login identities (ABN AMRO login protocol, docs/sessions.md): the identification code only as a keyed hash.
                """
                CREATE TABLE login_identities (
                    user_id TEXT PRIMARY KEY, account_number TEXT NOT NULL, card_number TEXT NOT NULL,
                    identification_code_hash TEXT, last_logon_at BIGINT, created_at BIGINT NOT NULL,
                    UNIQUE (account_number, card_number))
                """,
                // One counter per user and access tool: counting down and blocking is one conditional update.
                """
                CREATE TABLE access_tools (
                    user_id TEXT NOT NULL, tool TEXT NOT NULL, attempts_left INTEGER NOT NULL, updated_at BIGINT NOT NULL,
                    PRIMARY KEY (user_id, tool))
                """,
                // Sessions by the keyed hash of their cookie token; idleness is last_seen_at.
                """
                CREATE TABLE login_sessions (
                    id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, status TEXT NOT NULL, user_id TEXT,
                    access_tool_usage TEXT, device_id TEXT, last_logon_date BIGINT, created_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL, authorized_at BIGINT)
                """,
                "CREATE INDEX login_sessions_seen ON login_sessions (last_seen_at)",
                "CREATE INDEX login_sessions_user ON login_sessions (user_id)",
                """
                CREATE TABLE login_challenges (
                    handle TEXT PRIMARY KEY, kind TEXT NOT NULL, session_id TEXT NOT NULL, user_id TEXT NOT NULL,
                    access_tool_usage TEXT NOT NULL, device_id TEXT, nonce TEXT NOT NULL, scenario_name TEXT, scenario_hash TEXT,
                    status TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)
                """,
                "CREATE INDEX login_challenges_expiry ON login_challenges (expires_at)",
                "CREATE INDEX login_challenges_user ON login_challenges (user_id)",
                // Installation-wide keys other than the token-signing keys (the soft-token RSA key), sealed.
                """
                CREATE TABLE server_keys (
                    id TEXT PRIMARY KEY, sealed_private_key TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
            ]),
        Migration(
            version: 7, name: "processes",
            statements: [
                // finAPI process controller: the token only as a keyed hash; the exchange counter,
                // the limit, the end and the expiry on one row, so an exchange is one conditional update.
                """
                CREATE TABLE processes (
                    id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL, process_type TEXT NOT NULL,
                    client_reference TEXT NOT NULL, user_id TEXT NOT NULL, exchanges INTEGER NOT NULL DEFAULT 0,
                    max_exchanges INTEGER NOT NULL, invalidated_at BIGINT, created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL, delete_after BIGINT NOT NULL)
                """,
                "CREATE INDEX processes_delete_after ON processes (delete_after)",
                // Identities created for processes (deleted by the retention job); 1 = process identity.
                "ALTER TABLE users ADD COLUMN process_identity INTEGER NOT NULL DEFAULT 0",
            ]),
        Migration(
            version: 8, name: "audit-journal",
            statements: [
                // Appends land here, uncontended, in the request; the sealer moves them into the
                // hash chain (audit_events) in batches, taking the chain's lock once per batch.
                """
                CREATE TABLE audit_journal (
                    id TEXT PRIMARY KEY, occurred_at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                    subject TEXT, source_address TEXT, outcome TEXT NOT NULL, details TEXT NOT NULL)
                """,
                "CREATE INDEX audit_journal_order ON audit_journal (occurred_at, id)",
            ]),
        Migration(
            version: 10, name: "approval-screens",
            statements: [
                // What the mobile token screen shows (formData title and message), per template and
                // rendered per operation at creation.
                "ALTER TABLE operation_templates ADD COLUMN title TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE operation_templates ADD COLUMN message TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE approvals ADD COLUMN title TEXT",
                "ALTER TABLE approvals ADD COLUMN message TEXT",
            ]),
        Migration(
            version: 9, name: "back-office",
            statements: [
                // Operators of the back office: bcrypt password, TOTP secret sealed under the master
                // key, a counter and a lock per factor, the last accepted TOTP step (each code once).
                """
                CREATE TABLE operators (
                    id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
                    sealed_totp_secret TEXT NOT NULL, status TEXT NOT NULL,
                    failed_password_attempts INTEGER NOT NULL DEFAULT 0, password_locked_until BIGINT,
                    failed_totp_attempts INTEGER NOT NULL DEFAULT 0, totp_locked_until BIGINT,
                    last_totp_step BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL)
                """,
                // Browser sessions of /admin and /self-service: the cookie token only as a keyed hash.
                """
                CREATE TABLE web_sessions (
                    token_hash TEXT PRIMARY KEY, kind TEXT NOT NULL, principal_id TEXT NOT NULL,
                    created_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)
                """,
                "CREATE INDEX web_sessions_expiry ON web_sessions (expires_at)",
            ]),
        Migration(
            version: 11, name: "resource-server-clients",
            statements: [
                // Clients that may introspect tokens issued to other clients (docs/security-model.md).
                "ALTER TABLE clients ADD COLUMN resource_server INTEGER NOT NULL DEFAULT 0"
            ]),
        Migration(
            version: 12, name: "replay-guard",
            statements: [
                // Values that may be used once until they expire (ECIES request nonces, MAC-token
                // digests): the primary key makes "remember it or say it was seen" one INSERT on
                // every node. Only a hash of the value is kept.
                """
                CREATE TABLE replay_guard (
                    scope TEXT NOT NULL, key_hash TEXT NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (scope, key_hash))
                """,
                "CREATE INDEX replay_guard_expiry ON replay_guard (expires_at)",
                // Possession-only signature attempts of an activation in a fixed window: they are
                // throttled, never counted towards the block (a remote guesser must not lock the user out).
                "ALTER TABLE powerauth_activations ADD COLUMN possession_attempts INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE powerauth_activations ADD COLUMN possession_window_start BIGINT NOT NULL DEFAULT 0",
            ]),
        Migration(
            version: 13, name: "web-step-up",
            statements: [
                // Self-service step-up (docs/security-model.md): the session's assurance (auth_time and method of
                // the last second factor) and the step-up it waits for (an approval or an SMS
                // challenge, and the sensitive action it is for).
                "ALTER TABLE web_sessions ADD COLUMN second_factor_at BIGINT",
                "ALTER TABLE web_sessions ADD COLUMN second_factor_method TEXT",
                "ALTER TABLE web_sessions ADD COLUMN step_up_id TEXT",
                "ALTER TABLE web_sessions ADD COLUMN step_up_method TEXT",
                "ALTER TABLE web_sessions ADD COLUMN step_up_action TEXT",
                "ALTER TABLE web_sessions ADD COLUMN step_up_target TEXT",
                "ALTER TABLE web_sessions ADD COLUMN step_up_expires_at BIGINT",
            ]),
        Migration(
            version: 14, name: "assurance",
            statements: [
                // RFC 9470 auth_time of a refresh-token family (ms): a refresh keeps the original
                // authentication time, so an old login never passes a max_age check.
                "ALTER TABLE token_families ADD COLUMN auth_time BIGINT"
            ],
            // A device that leaves ACTIVE (blocked, removed — by the user, an operator, PowerAuth's
            // failure count, whichever code path) revokes its confirmed refresh-token families in
            // the same statement's transaction, so unblocking it later does not revive them. The
            // time is the database's clock: it is recorded, never compared.
            sqliteOnly: [
                """
                CREATE TRIGGER devices_leave_active_revoke_families AFTER UPDATE OF status ON devices
                WHEN OLD.status = 'ACTIVE' AND NEW.status <> 'ACTIVE'
                BEGIN
                  UPDATE token_families SET revoked_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
                  WHERE device_id = NEW.id AND revoked_at IS NULL;
                END
                """
            ],
            postgresOnly: [
                """
                CREATE FUNCTION devices_leave_active_revoke_families() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  UPDATE token_families SET revoked_at = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT
                  WHERE device_id = NEW.id AND revoked_at IS NULL;
                  RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER devices_leave_active_revoke_families AFTER UPDATE OF status ON devices FOR EACH ROW
                WHEN (OLD.status = 'ACTIVE' AND NEW.status <> 'ACTIVE') EXECUTE FUNCTION devices_leave_active_revoke_families()
                """,
            ]),
        Migration(
            version: 15, name: "realms",
            statements: [
                // Tenants (docs/security-model.md): everything that existed before belongs to the realm 'default'.
                "CREATE TABLE realms (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL)",
                "INSERT INTO realms (id, created_at) VALUES ('default', 0)",
                // The roots of ownership carry their realm; objects hanging off a user id (devices,
                // approvals, tokens, sessions) are in their user's realm.
                "ALTER TABLE clients ADD COLUMN realm_id TEXT NOT NULL DEFAULT 'default'",
                "ALTER TABLE powerauth_applications ADD COLUMN realm_id TEXT NOT NULL DEFAULT 'default'",
                "ALTER TABLE integration_users ADD COLUMN realm_id TEXT NOT NULL DEFAULT 'default'",
                "ALTER TABLE operators ADD COLUMN realm_id TEXT NOT NULL DEFAULT 'default'",
                // The realm an audit record concerns (NULL: installation-wide); not part of the
                // hash, so the one chain and every existing link stay as they are.
                "ALTER TABLE audit_journal ADD COLUMN realm_id TEXT",
                "ALTER TABLE audit_events ADD COLUMN realm_id TEXT",
                "CREATE INDEX audit_events_realm ON audit_events (realm_id, sequence)",
            ],
            // Usernames become unique per realm. SQLite cannot drop a column's UNIQUE: the table
            // is rebuilt (nothing references users by foreign key, and it has no other index).
            sqliteOnly: [
                """
                CREATE TABLE users_realms (
                    id TEXT PRIMARY KEY, username TEXT NOT NULL, password_hash TEXT NOT NULL,
                    phone TEXT, email TEXT, owner_client_id TEXT, status TEXT NOT NULL,
                    failed_password_attempts INTEGER NOT NULL DEFAULT 0, password_locked_until BIGINT,
                    created_at BIGINT NOT NULL, failed_binding_attempts INTEGER NOT NULL DEFAULT 0,
                    binding_locked_until BIGINT, process_identity INTEGER NOT NULL DEFAULT 0,
                    realm_id TEXT NOT NULL DEFAULT 'default')
                """,
                """
                INSERT INTO users_realms (id, username, password_hash, phone, email, owner_client_id, status,
                    failed_password_attempts, password_locked_until, created_at, failed_binding_attempts,
                    binding_locked_until, process_identity)
                SELECT id, username, password_hash, phone, email, owner_client_id, status,
                    failed_password_attempts, password_locked_until, created_at, failed_binding_attempts,
                    binding_locked_until, process_identity FROM users
                """,
                "DROP TABLE users",
                "ALTER TABLE users_realms RENAME TO users",
                "CREATE UNIQUE INDEX users_realm_username ON users (realm_id, username)",
            ],
            postgresOnly: [
                "ALTER TABLE users ADD COLUMN realm_id TEXT NOT NULL DEFAULT 'default'",
                "ALTER TABLE users DROP CONSTRAINT users_username_key",
                "CREATE UNIQUE INDEX users_realm_username ON users (realm_id, username)",
            ]),
        Migration(
            version: 16, name: "sms-otp-budgets",
            statements: [
                // OTP SMS sent per budget in a fixed window (SMS pumping): `user:<id>`,
                // `phone:<HMAC of the number>` (never the number in clear), `stepup:<id>` (the self-service
                // step-up's own limit, `web.stepUpSmsPerHour`). One
                // conditional upsert per budget counts a send on every node; windows that are
                // over are restarted in place or swept (`window_start` index).
                """
                CREATE TABLE sms_budgets (
                    budget_key TEXT PRIMARY KEY, window_start BIGINT NOT NULL, sent INTEGER NOT NULL)
                """,
                "CREATE INDEX sms_budgets_window_start ON sms_budgets (window_start)",
                // The pending-device cap counts a user's CREATED and PENDING_COMMIT devices.
                "CREATE INDEX devices_user_status ON devices (user_id, status, created_at)",
            ]),
        Migration(
            version: 17, name: "audit-failures",
            statements: [
                // Failed authentications of unauthenticated callers, counted per window (
                // a row per wrong client secret in the append-only chain filled the disk). One
                // atomic upsert per failure; a closed window becomes ONE chained audit record and
                // its row is deleted (`window_end` index). Absent values are '' (part of the key).
                """
                CREATE TABLE audit_failures (
                    window_start BIGINT NOT NULL, window_end BIGINT NOT NULL, realm_id TEXT NOT NULL, action TEXT NOT NULL,
                    actor TEXT NOT NULL, subject TEXT NOT NULL, source_address TEXT NOT NULL, reason TEXT NOT NULL,
                    failures INTEGER NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
                    PRIMARY KEY (window_start, realm_id, action, actor, subject, source_address, reason))
                """,
                "CREATE INDEX audit_failures_window_end ON audit_failures (window_end)",
            ]),
        Migration(
            version: 18, name: "decoy-login-attempts",
            statements: [
                // Wrong answers to the decoy challenges of an unknown ABN AMRO account/card
                // count down and block as a known one's do. Keyed by the HMAC of ACCOUNT_CARD (no
                // account number in clear); `used_handles` (`,h1,h2,`) makes each decoy handle
                // answer once. Capped in number and swept after `sessions.decoyRetention`.
                """
                CREATE TABLE decoy_login_attempts (
                    subject_hash TEXT NOT NULL, tool TEXT NOT NULL, attempts_left INTEGER NOT NULL, used_handles TEXT NOT NULL,
                    updated_at BIGINT NOT NULL, PRIMARY KEY (subject_hash, tool))
                """,
                "CREATE INDEX decoy_login_attempts_updated ON decoy_login_attempts (updated_at)",
            ]),
        Migration(
            version: 19, name: "key-lifecycle",
            statements: [
                // When a signing key was retired, so that it is deleted (and leaves the JWKS) once
                // no unexpired token can carry it (`keys.retiredRetentionSeconds`, docs/keys.md).
                // NULL for keys retired before this column existed: the pruner stamps them.
                "ALTER TABLE signing_keys ADD COLUMN retired_at BIGINT",
                // The key the keyed hashes of bearer secrets are made under, sealed under the
                // master key: it outlives master-key rotations, which re-seal it (docs/keys.md).
                // One row, `hash`; the first node to start on the database writes it.
                """
                CREATE TABLE master_key_roots (
                    id TEXT PRIMARY KEY, sealed_root TEXT NOT NULL, created_at BIGINT NOT NULL)
                """,
            ]),
        Migration(
            version: 20, name: "client-login-profile",
            statements: [
                // What a client needs for the authorization endpoint and sender-constrained tokens
                // (docs/oauth.md): its exact redirect URIs (one per line), whether it is public (no
                // secret), its JWK Set for private_key_jwt, whether DPoP and PAR are mandatory, and the
                // assurance its logins get by default.
                "ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE clients ADD COLUMN public_client INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE clients ADD COLUMN jwks TEXT",
                "ALTER TABLE clients ADD COLUMN dpop_required INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE clients ADD COLUMN require_par INTEGER NOT NULL DEFAULT 0",
                "ALTER TABLE clients ADD COLUMN default_acr TEXT",
            ]),
        Migration(
            version: 21, name: "authorization-codes",
            statements: [
                // Pushed authorization requests (RFC 9126) and logins at the hosted login page: the
                // validated request as JSON, keyed by the keyed hash of an opaque handle (the
                // request_uri, or the login's form field), bound to the browser's cookie (its keyed
                // hash). Each step is one conditional update of the row; finished_at ends it.
                """
                CREATE TABLE authorization_requests (
                    id TEXT PRIMARY KEY, client_id TEXT NOT NULL, request TEXT NOT NULL, pushed INTEGER NOT NULL,
                    browser_hash TEXT, user_id TEXT, password_at BIGINT, second_factor TEXT, second_factor_id TEXT,
                    created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, finished_at BIGINT)
                """,
                "CREATE INDEX authorization_requests_expires ON authorization_requests (expires_at)",
                // Authorization codes (RFC 6749 §4.1.2): the keyed hash of the code, what it is bound to
                // and how the user authenticated; used_at makes it single use, and what its
                // redemption issued is kept so that a second presentation revokes it.
                """
                CREATE TABLE authorization_codes (
                    code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, user_id TEXT NOT NULL, request TEXT NOT NULL,
                    acr TEXT NOT NULL, amr TEXT NOT NULL, auth_time BIGINT NOT NULL, created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL, used_at BIGINT, reuse_detected_at BIGINT, family_id TEXT, access_jti TEXT,
                    access_expires_at BIGINT)
                """,
                "CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at)",
            ]),
        Migration(
            version: 22, name: "dpop-refresh-binding",
            statements: [
                // The RFC 7638 thumbprint of the DPoP key a public client's refresh token is bound
                // to (RFC 9449 §5); rotation copies it to the successor. NULL: not bound.
                "ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT"
            ]),
        Migration(
            version: 23, name: "passkeys",
            statements: [
                // The WebAuthn credential of a `passkey` device (docs/passkeys.md): its ID (base64url,
                // unique across the server, WebAuthn §7.1 step 26), COSE key (base64url), counter,
                // AAGUID (hex), how it was attested and its backup flags.
                """
                CREATE TABLE passkeys (
                    device_id TEXT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE, user_id TEXT NOT NULL,
                    credential_id TEXT NOT NULL UNIQUE, public_key TEXT NOT NULL, algorithm INTEGER NOT NULL,
                    sign_count BIGINT NOT NULL, aaguid TEXT NOT NULL, attestation_format TEXT NOT NULL,
                    attestation_certified INTEGER NOT NULL, backup_eligible INTEGER NOT NULL, backup_state INTEGER NOT NULL,
                    transports TEXT NOT NULL, last_assertion_at BIGINT)
                """,
                "CREATE INDEX passkeys_user ON passkeys (user_id)",
                // WebAuthn ceremonies: the challenge issued and what its answer may do; used_at makes
                // each single use. An approval's challenge is SHA-256(message ‖ nonce).
                """
                CREATE TABLE passkey_ceremonies (
                    id TEXT PRIMARY KEY, purpose TEXT NOT NULL, user_id TEXT, realm_id TEXT NOT NULL, target TEXT,
                    challenge TEXT NOT NULL, nonce TEXT, sealed_otp TEXT, name TEXT, attempts INTEGER NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT)
                """,
                "CREATE INDEX passkey_ceremonies_expires ON passkey_ceremonies (expires_at)",
            ]),
        Migration(
            version: 24, name: "audit-journal-unindexed-order",
            statements: [
                // Every audited request inserts into the journal; the sealer drains it every 200 ms
                // (a few hundred rows), so sorting it there costs less than keeping this index on
                // every insert: one B-tree page fewer per audited write (docs/benchmarks.md, eighth pass).
                "DROP INDEX audit_journal_order"
            ]),
        Migration(
            version: 25, name: "retention-and-revocation-indexes",
            statements: [
                // The retention job (`Retention`) finds expired rows by their expiry. One more
                // B-tree per inserted challenge and refresh token — appended at its end, as
                // expiries grow with time: device challenge creation +2 %, verification no
                // change measured (docs/benchmarks.md, twenty-second pass) — against tables
                // that otherwise grow for ever.
                "CREATE INDEX challenges_expires ON challenges (expires_at)",
                "CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at)",
                "CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens (expires_at)",
                // A device leaving ACTIVE revokes the families it confirmed (the trigger
                // `devices_leave_active_revoke_families`): without this index that UPDATE read
                // every family of every user, under SQLite's write lock, at each block or
                // removal. Only device-confirmed families are indexed.
                "CREATE INDEX token_families_device ON token_families (device_id) WHERE device_id IS NOT NULL",
                // The approval sweeper (every second, every node) looked for expired PENDING
                // approvals by reading every approval ever created; it now reads only the
                // pending ones, in expiry order. A row leaves this index when it is decided.
                "CREATE INDEX approvals_pending_expiry ON approvals (expires_at) WHERE status = 'PENDING'",
                // Shine's action tokens: deleting a process identity (the process retention job)
                // read every action token to find its approvals'; the retention job deletes
                // expired ones by expiry.
                "CREATE INDEX action_tokens_approval ON action_tokens (approval_id)",
                "CREATE INDEX action_tokens_expires ON action_tokens (expires_at)",
                // The back office lists the newest webhook deliveries: read backwards from here
                // instead of sorting every delivery ever made.
                "CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at, id)",
            ]),
    ]
}
