import Dispatch

/// The engine's clock: seconds of uptime, monotonic (a wall-clock step
/// never expires a session early). Sessions' last use and time to live are
/// measured on it; what is stored durably is wall-clock time, and the two
/// meet only as an idle duration (`DecodeEngine.restoreSession`).
public enum EngineClock {
    public static func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
