package io.rats;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/** Argument checks made in Java before a call reaches the native library. */
final class Args {
    private Args() {}

    /** A peer id: 64 hex characters (an Ed25519 public key). */
    static String peerId(String id) {
        Objects.requireNonNull(id, "peerId");
        if (id.length() != 64 || !isHex(id)) {
            throw new IllegalArgumentException("not a peer id (64 hex characters): \"" + shorten(id) + "\"");
        }
        return id;
    }

    /** A transfer id: non-empty text without NUL. */
    static String transferId(String id) {
        return nonEmpty(id, "transferId");
    }

    /** Text the native side gets as a C string: no NUL character inside. */
    static String text(String s, String what) {
        Objects.requireNonNull(s, what);
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(what + " contains a NUL character");
        }
        return s;
    }

    /** Non-empty text without NUL. */
    static String nonEmpty(String s, String what) {
        text(s, what);
        if (s.isEmpty()) {
            throw new IllegalArgumentException(what + " is empty");
        }
        return s;
    }

    /** A message type: 1..255 bytes of UTF-8, no NUL. */
    static String messageType(String type) {
        nonEmpty(type, "type");
        if (type.getBytes(StandardCharsets.UTF_8).length > 255) {
            throw new IllegalArgumentException("message type longer than 255 bytes");
        }
        return type;
    }

    /** A topic: 1..256 bytes of UTF-8, no NUL. */
    static String topic(String topic) {
        nonEmpty(topic, "topic");
        if (topic.getBytes(StandardCharsets.UTF_8).length > 256) {
            throw new IllegalArgumentException("topic longer than 256 bytes");
        }
        return topic;
    }

    /** A port to listen on: 0 (any) .. 65535. */
    static int listenPort(int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port outside 0..65535: " + port);
        }
        return port;
    }

    /** A port to connect to: 1 .. 65535. */
    static int remotePort(int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port outside 1..65535: " + port);
        }
        return port;
    }

    static boolean isHex(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!hex) {
                return false;
            }
        }
        return true;
    }

    private static String shorten(String s) {
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }
}
