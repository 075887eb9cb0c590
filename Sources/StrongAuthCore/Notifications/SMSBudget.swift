import Crypto
import Foundation
import StrongAuthProtocol

/// One counter an OTP SMS is charged to: at most `limit` SMS per window under `key`.
public struct SMSBudget: Sendable, Equatable {
    /// `user:<id>`, `phone:<keyed hash>` or `stepup:<id>`; never a phone number in clear.
    public var key: String
    public var limit: Int

    public init(key: String, limit: Int) {
        self.key = key
        self.limit = max(1, limit)
    }
}

/// What the store answers when an OTP SMS is to be counted.
public enum SMSReservation: Sendable, Equatable {
    /// Counted on every budget: send it.
    case reserved
    /// A budget is spent (nothing was counted on any): the earliest moment the spent budget's
    /// window ends, for `Retry-After`.
    case exhausted(retryAt: Date)
}

/// The fixed-window counters of OTP SMS (SMS pumping), one row per budget key.
public protocol SMSBudgetRepository: Sendable {
    /// Counts one SMS on every budget, or on none: all-or-nothing, each counter one conditional
    /// upsert (correct with several nodes on one database). A counter whose window started
    /// `window` or more ago restarts at `now` with this SMS as its first.
    func reserveSMS(_ budgets: [SMSBudget], at now: Date, window: TimeInterval) async throws -> SMSReservation
}

/// How many OTP SMS the server sends (`sms.otpPerUserPerHour`, `sms.otpPerPhonePerHour`): each
/// costs the bank money — premium-rate numbers turn that into someone's income — and lands on
/// a phone. One mechanism for every OTP SMS (device binding, self-service step-up): a budget per
/// user and one per phone number, so neither one user's password nor many users sharing one
/// number pump SMS.
public struct SMSLimits: Sendable, Equatable {
    public var perUser: Int
    public var perPhone: Int
    public var window: TimeInterval

    public init(perUser: Int = 5, perPhone: Int = 5, window: TimeInterval = 3600) {
        self.perUser = max(1, perUser)
        self.perPhone = max(1, perPhone)
        self.window = max(1, window)
    }

    /// The user's and the number's budgets. The number is keyed by an HMAC under a key derived
    /// from the master key: the counter table never holds phone numbers, and the few billion
    /// possible numbers cannot be hashed through without that key. The number's budget is the
    /// user's `realm`'s (docs/security-model.md): two banks' customers may share a phone, and one realm's users
    /// must neither spend the number's codes at another realm nor learn from a refusal that the
    /// number received codes there.
    public func budgets(userID: String, realm: String, phone: String, masterKey: MasterKey) -> [SMSBudget] {
        [
            SMSBudget(key: "user:\(userID)", limit: perUser),
            SMSBudget(key: Self.phoneKey(phone, realm: realm, masterKey: masterKey), limit: perPhone),
        ]
    }

    /// `phone:` and the hex HMAC-SHA256 of the number with everything but digits and `+` removed
    /// (so "+49 151 …" and "+49151…" share a budget), preceded by the realm and a NUL outside the
    /// default realm (whose keys stay those from before realms, so no budget restarts).
    public static func phoneKey(_ phone: String, realm: String, masterKey: MasterKey) -> String {
        let normalized = String(phone.unicodeScalars.filter { $0 == "+" || ("0"..."9").contains($0) }.map(Character.init))
        let input = realm == Realm.defaultID ? normalized : realm + "\u{0}" + normalized
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: masterKey.derive(purpose: "sms-budget-phone"))
        return "phone:" + Hex.encode(Array(mac))
    }
}
