package io.rats;

import java.util.Locale;

/** The state of a file or directory transfer (librats' names and numbers). */
public enum TransferStatus {
    PENDING, STARTING, IN_PROGRESS, PAUSED, COMPLETED, FAILED, CANCELLED, RESUMING;

    /** Whether the transfer is over ({@link #COMPLETED}, {@link #FAILED} or {@link #CANCELLED}). */
    public boolean isTerminal() {
        return this == COMPLETED || this == FAILED || this == CANCELLED;
    }

    /** The status of a librats status name ("IN_PROGRESS", any case); null for another name. */
    public static TransferStatus fromName(String name) {
        if (name == null) {
            return null;
        }
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** The status of librats' number (0 PENDING ... 7 RESUMING); null outside 0..7. */
    public static TransferStatus fromCode(int code) {
        TransferStatus[] all = values();
        return code >= 0 && code < all.length ? all[code] : null;
    }
}
