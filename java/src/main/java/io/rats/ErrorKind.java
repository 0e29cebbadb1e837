package io.rats;

/**
 * What went wrong, from the C API's error codes ({@code rats_error_t}); see
 * {@link RatsException#kind()}.
 */
public enum ErrorKind {
    /** The client handle is not (or no longer) valid: the client was closed. */
    INVALID_HANDLE(-1, "invalid handle"),
    /** An argument the native side refused (a check Java cannot make beforehand). */
    INVALID_PARAMETER(-2, "invalid parameter"),
    /** The operation needs a running client. */
    NOT_RUNNING(-3, "client not running"),
    /** The operation failed (the C API does not say why). */
    OPERATION_FAILED(-4, "operation failed"),
    /** The peer is not connected. */
    PEER_NOT_FOUND(-5, "peer not found"),
    /** The native side could not allocate memory. */
    MEMORY_ALLOCATION(-6, "memory allocation failed"),
    /** Text that should be JSON is not. */
    JSON_PARSE(-7, "not valid JSON"),
    /** A code this version does not know. */
    UNKNOWN(Integer.MIN_VALUE, "unknown error");

    private final int code;
    private final String description;

    ErrorKind(int code, String description) {
        this.code = code;
        this.description = description;
    }

    /** The C API's value ({@code RATS_ERROR_*}); {@link Integer#MIN_VALUE} for {@link #UNKNOWN}. */
    public int code() {
        return code;
    }

    /** A short description ("peer not found"). */
    public String description() {
        return description;
    }

    /** The kind of a C API error code ({@link #UNKNOWN} for one this version does not know). */
    public static ErrorKind fromCode(int code) {
        for (ErrorKind k : values()) {
            if (k.code == code) {
                return k;
            }
        }
        return UNKNOWN;
    }
}
