package io.rats;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A file or directory transfer, sent ({@link Client#sendFile}, {@link Client#sendDirectory})
 * or received (an offer accepted through {@link Client#onFileOffer}).
 *
 * <p>{@link #result()} completes when the transfer reports {@link TransferStatus#COMPLETED},
 * {@link TransferStatus#FAILED} or {@link TransferStatus#CANCELLED} (normally, with that
 * status: check {@link TransferResult#isSuccess()}); it completes exceptionally with a
 * {@link RatsException} of kind {@link ErrorKind#NOT_RUNNING} if the client is closed first.
 * Progress listeners run on the client's callback thread ("rats-cb").
 */
public final class Transfer {
    /** Which way the data goes. */
    public enum Direction { SENDING, RECEIVING }

    private final Client client;
    private final String id;
    private final String peerId;
    private final Path path;
    private final Direction direction;
    private final boolean directory;
    private final CompletableFuture<TransferResult> result = new CompletableFuture<>();
    private volatile Consumer<TransferProgress> listener;
    private volatile TransferProgress last;

    Transfer(Client client, String id, String peerId, Path path, Direction direction, boolean directory,
             Consumer<TransferProgress> listener) {
        this.client = client;
        this.id = id;
        this.peerId = peerId;
        this.path = path;
        this.direction = direction;
        this.directory = directory;
        this.listener = listener;
    }

    /** The transfer id (32 hex characters). */
    public String id() {
        return id;
    }

    /** The other side. */
    public String peerId() {
        return peerId;
    }

    /** The local file or directory: the source when sending, the destination when receiving. */
    public Path path() {
        return path;
    }

    /** Sending or receiving. */
    public Direction direction() {
        return direction;
    }

    /** Whether this is a directory transfer. */
    public boolean isDirectory() {
        return directory;
    }

    /**
     * How the transfer ends. Each call returns a new future that completes with the
     * transfer (completing or cancelling it does not touch the transfer: use {@link #cancel()}).
     */
    public CompletableFuture<TransferResult> result() {
        return result.copy();
    }

    /** Whether the transfer is over (or the client was closed). */
    public boolean isDone() {
        return result.isDone();
    }

    /** The latest progress report, if any came. */
    public Optional<TransferProgress> lastProgress() {
        return Optional.ofNullable(last);
    }

    /**
     * Sets the progress listener (null removes it), called on the callback thread for every
     * report of this transfer, the final one included. Replaces the previous listener.
     */
    public Transfer onProgress(Consumer<TransferProgress> listener) {
        this.listener = listener;
        return this;
    }

    /** Pauses the transfer. @throws RatsException if the native side refuses */
    public void pause() {
        RatsException.check(client.nativePause(id), "pause transfer " + id);
    }

    /** Resumes a paused transfer. @throws RatsException if the native side refuses */
    public void resume() {
        RatsException.check(client.nativeResume(id), "resume transfer " + id);
    }

    /** Cancels the transfer (the result then reports CANCELLED). @throws RatsException if refused */
    public void cancel() {
        RatsException.check(client.nativeCancel(id), "cancel transfer " + id);
    }

    /**
     * The native side's progress record of this transfer (librats' keys {@code transfer_id},
     * {@code filename}, {@code bytes_transferred}, {@code total_bytes},
     * {@code completion_percentage}, {@code status}, {@code direction}, and rats'
     * {@code status_text}, {@code files}, {@code files_completed}, {@code rate_bytes_per_sec},
     * ...); empty once the native side no longer knows the transfer.
     */
    public Optional<Map<String, Object>> details() {
        String json = client.nativeProgressJson(id);
        return json == null ? Optional.empty() : Optional.of(Json.readOnly(Json.parseObject(json)));
    }

    @Override
    public String toString() {
        TransferProgress p = last;
        return "Transfer[" + id + ", " + direction + (directory ? " directory " : " ") + path + ", peer "
                + peerId + (p == null ? "" : ", " + p.statusName() + " " + p.percent() + "%") + "]";
    }

    /** A progress report for this transfer (any thread; normally the callback thread). */
    void update(TransferProgress p) {
        last = p;
        Consumer<TransferProgress> l = listener;
        if (l != null) {
            try {
                l.accept(p);
            } catch (Throwable t) {
                client.report("transfer progress", t);
            }
        }
        if (p.isTerminal()) {
            result.complete(new TransferResult(id, peerId, p.status(), path));
        }
    }

    void fail(Throwable t) {
        result.completeExceptionally(Objects.requireNonNull(t));
    }
}
