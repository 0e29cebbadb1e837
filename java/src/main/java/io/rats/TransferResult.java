package io.rats;

import java.nio.file.Path;

/**
 * How a transfer ended: {@link TransferStatus#COMPLETED}, {@link TransferStatus#FAILED} or
 * {@link TransferStatus#CANCELLED}.
 *
 * @param transferId the transfer
 * @param peerId     the other side
 * @param status     the final state
 * @param path       the local file or directory: the source when sending, where it was saved
 *                   when receiving
 */
public record TransferResult(String transferId, String peerId, TransferStatus status, Path path) {
    /** Whether the transfer completed. */
    public boolean isSuccess() {
        return status == TransferStatus.COMPLETED;
    }
}
