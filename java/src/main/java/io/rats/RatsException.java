package io.rats;

/**
 * A rats operation failed. {@link #kind()} says how (the C API's error code, also as
 * {@link #code()}). Bad arguments that Java can check are {@link IllegalArgumentException}s or
 * {@link NullPointerException}s instead, thrown before anything reaches the native library;
 * calls on a closed {@link Client} throw {@link IllegalStateException}.
 */
public class RatsException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorKind kind;
    private final int code;

    /** An exception of {@code kind} with a message. */
    public RatsException(ErrorKind kind, String message) {
        super(message);
        this.kind = kind;
        this.code = kind.code();
    }

    /** An exception for a C API error code; the message names the operation. */
    public RatsException(int code, String operation) {
        super(operation + " failed: " + ErrorKind.fromCode(code).description() + " (" + code + ")");
        this.kind = ErrorKind.fromCode(code);
        this.code = code;
    }

    /** The kind of failure. */
    public ErrorKind kind() {
        return kind;
    }

    /** The C API's error code ({@code RATS_ERROR_*}, negative). */
    public int code() {
        return code;
    }

    /** Returns {@code code} when it is not negative, else throws the matching exception. */
    static int check(int code, String operation) {
        if (code < 0) {
            throw new RatsException(code, operation);
        }
        return code;
    }
}
