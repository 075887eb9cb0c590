import Foundation
import HummingbirdOTP
import StrongAuthCore

/// RFC 6238 TOTP from hummingbird-auth (6 digits, 30 s, HMAC-SHA1: what authenticator apps expect).
struct HummingbirdTOTPGenerator: TOTPGenerator {
    func code(secret: String, at date: Date) -> Int {
        TOTP(secret: secret).compute(date: date)
    }

    func authenticatorURL(secret: String, label: String, issuer: String) -> String {
        TOTP(secret: secret).createAuthenticatorURL(label: label, issuer: issuer)
    }
}
