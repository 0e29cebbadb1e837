package io.rats.jni;

/**
 * Warnings of the Java binding (both APIs): through {@link System.Logger} when the runtime
 * has it, else (older Android runtimes) on {@link System#err}. Never throws. Not part of the
 * API applications use.
 */
public final class BindingLog {
    private BindingLog() {}

    /** Logs {@code message} (and {@code t}, if any) as a warning of logger {@code logger}. */
    public static void warn(String logger, String message, Throwable t) {
        try {
            System.getLogger(logger).log(System.Logger.Level.WARNING, message, t);
            return;
        } catch (LinkageError noSystemLogger) {
            // fall through to stderr
        } catch (Throwable ignored) {
            return;
        }
        try {
            System.err.println(message);
            if (t != null) {
                t.printStackTrace();
            }
        } catch (Throwable ignored) {
            // nothing left to tell
        }
    }
}
