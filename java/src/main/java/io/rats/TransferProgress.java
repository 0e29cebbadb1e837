package io.rats;

/**
 * One progress report of a transfer.
 *
 * @param transferId the transfer (32 hex characters)
 * @param percent    0..100
 * @param status     the state; null when the native side reported a name this version does
 *                   not know (see {@code statusName})
 * @param statusName the status as the native side named it ("IN_PROGRESS", ...)
 */
public record TransferProgress(String transferId, int percent, TransferStatus status, String statusName) {
    /** Whether this report ends the transfer. */
    public boolean isTerminal() {
        return status != null && status.isTerminal();
    }
}
