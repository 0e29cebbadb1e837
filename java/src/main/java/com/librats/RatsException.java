package com.librats;

/**
 * A checked exception carrying a C API error code, as in librats' Java API (same
 * constructors and methods). {@link RatsClient} itself returns codes, as librats' did; the
 * class is here for code that turns those codes into exceptions.
 */
public class RatsException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int errorCode;

    /** A failure with {@link RatsClient#ERROR_OPERATION_FAILED}. */
    public RatsException(String message) {
        this(message, RatsClient.ERROR_OPERATION_FAILED, null);
    }

    /** A failure with the given code. */
    public RatsException(String message, int errorCode) {
        this(message, errorCode, null);
    }

    /** A failure with {@link RatsClient#ERROR_OPERATION_FAILED} and a cause. */
    public RatsException(String message, Throwable cause) {
        this(message, RatsClient.ERROR_OPERATION_FAILED, cause);
    }

    /** A failure with the given code and cause. */
    public RatsException(String message, int errorCode, Throwable cause) {
        super(message, cause);
        this.errorCode = errorCode;
    }

    /** The C API's error code ({@code RatsClient.ERROR_*}). */
    public int getErrorCode() {
        return errorCode;
    }

    /** A description of a C API error code. */
    public static String getErrorMessage(int errorCode) {
        return switch (errorCode) {
            case RatsClient.SUCCESS -> "Success";
            case RatsClient.ERROR_INVALID_HANDLE -> "Invalid handle";
            case RatsClient.ERROR_INVALID_PARAMETER -> "Invalid parameter";
            case RatsClient.ERROR_NOT_RUNNING -> "Client not running";
            case RatsClient.ERROR_OPERATION_FAILED -> "Operation failed";
            case RatsClient.ERROR_PEER_NOT_FOUND -> "Peer not found";
            case RatsClient.ERROR_MEMORY_ALLOCATION -> "Memory allocation failed";
            case RatsClient.ERROR_JSON_PARSE -> "JSON parse error";
            default -> "Unknown error";
        };
    }
}
