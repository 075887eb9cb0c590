import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: SMSBudgetRepository {
    /// Thrown inside a transaction to roll back what was counted before a budget was found spent.
    struct SMSRefusal: Error {
        let outcome: DeviceBindingOutcome
    }

    public func reserveSMS(_ budgets: [SMSBudget], at now: Date, window: TimeInterval) async throws -> SMSReservation {
        do {
            try await pool.withTransaction { db in
                if let retryAt = try await Self.reserve(budgets, at: now, window: window, on: db) {
                    throw SMSRefusal(outcome: .smsExhausted(retryAt: retryAt))
                }
            }
        } catch let refusal as SMSRefusal {
            guard case .smsExhausted(let retryAt) = refusal.outcome else { throw refusal }
            return .exhausted(retryAt: retryAt)
        }
        await sweepSMSBudgets(before: now, window: window)
        return .reserved
    }

    /// Counts one SMS on each budget inside the caller's transaction; the first spent budget's
    /// window end when one is spent (the caller then rolls back). Each counter is ONE upsert that
    /// counts only while the window has room: on PostgreSQL a concurrent upsert of the same key
    /// waits for this row lock and re-checks the condition against the committed count, so any
    /// number of nodes together count at most `limit`. Keys are taken in sorted order so that two
    /// transactions never wait for each other's rows crosswise.
    static func reserve(_ budgets: [SMSBudget], at now: Date, window: TimeInterval, on db: any SQLDatabase) async throws -> Date? {
        let start = now.epochMilliseconds
        let cutoff = start - Int64(window * 1000)
        for budget in budgets.sorted(by: { $0.key < $1.key }) {
            let counted = try await db.sql(
                """
                INSERT INTO sms_budgets (budget_key, window_start, sent) VALUES (\(bind: budget.key), \(bind: start), 1)
                ON CONFLICT (budget_key) DO UPDATE SET
                    sent = CASE WHEN sms_budgets.window_start <= \(bind: cutoff) THEN 1 ELSE sms_budgets.sent + 1 END,
                    window_start = CASE WHEN sms_budgets.window_start <= \(bind: cutoff) THEN \(bind: start) ELSE sms_budgets.window_start END
                WHERE sms_budgets.window_start <= \(bind: cutoff) OR sms_budgets.sent < \(bind: budget.limit)
                RETURNING sent
                """
            ).first()
            if counted == nil {
                let row = try await db.sql("SELECT window_start FROM sms_budgets WHERE budget_key = \(bind: budget.key)").first()
                let windowStart = try row?.decode(column: "window_start", as: Int64.self) ?? start
                return Date(timeIntervalSince1970: TimeInterval(windowStart) / 1000 + window)
            }
        }
        return nil
    }

    /// Removes counters whose window is over (they would restart anyway), so one row per phone
    /// number ever texted does not pile up. Best effort: a failure only leaves rows for later.
    func sweepSMSBudgets(before now: Date, window: TimeInterval) async {
        let cutoff = now.epochMilliseconds - Int64(window * 1000)
        _ = try? await pool.withWriteConnection { db in
            try await db.sql("DELETE FROM sms_budgets WHERE window_start <= \(bind: cutoff)").run()
        }
    }
}
