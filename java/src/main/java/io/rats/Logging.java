package io.rats;

/**
 * Warnings of the binding: through {@link System.Logger} ("io.rats") when the runtime has it,
 * else (older Android runtimes) on {@link System#err}. Never throws.
 */
final class Logging {
    private Logging() {}

    static void warn(String message, Throwable t) {
        try {
            Holder.LOGGER.log(System.Logger.Level.WARNING, message, t);
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

    /** Loaded on first use, so a runtime without System.Logger fails here only. */
    private static final class Holder {
        static final System.Logger LOGGER = System.getLogger("io.rats");
    }
}
