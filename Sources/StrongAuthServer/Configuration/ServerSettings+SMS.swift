import Configuration
import Foundation
import StrongAuthCore

extension ServerSettings {
    /// The OTP SMS caps (SMS pumping): `sms.otpPerUserPerHour` (5, 1–1000),
    /// `sms.otpPerPhonePerHour` (5, 1–1000) — every OTP SMS (device binding, self-service
    /// step-up) counts on both — and `devices.maxPendingPerUser` (3, 1–100), the devices in
    /// CREATED or PENDING_COMMIT one user may have.
    mutating func readSMSLimits(_ config: ConfigReader) throws {
        let perUser = config.int(forKey: "sms.otpPerUserPerHour", default: 5)
        let perPhone = config.int(forKey: "sms.otpPerPhonePerHour", default: 5)
        guard (1...1000).contains(perUser), (1...1000).contains(perPhone) else {
            throw SettingsError("sms.otpPerUserPerHour and sms.otpPerPhonePerHour must be 1–1000")
        }
        let maxPending = config.int(forKey: "devices.maxPendingPerUser", default: 3)
        guard (1...100).contains(maxPending) else { throw SettingsError("devices.maxPendingPerUser must be 1–100") }
        devices.sms = SMSLimits(perUser: perUser, perPhone: perPhone, window: 3600)
        devices.maxPendingPerUser = maxPending
    }
}
