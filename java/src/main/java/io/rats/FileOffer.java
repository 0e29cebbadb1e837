package io.rats;

/**
 * A peer offers us a file or a directory (see {@link Client#onFileOffer}).
 *
 * @param peerId     the offering peer
 * @param transferId the transfer's id (32 hex characters)
 * @param remotePath the path the peer gave (may be empty)
 * @param name       the file or directory name the peer proposes
 * @param directory  true for a directory tree
 */
public record FileOffer(String peerId, String transferId, String remotePath, String name, boolean directory) {
}
