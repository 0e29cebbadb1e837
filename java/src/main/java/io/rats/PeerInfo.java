package io.rats;

import java.util.Map;

/**
 * What the native library says about a connected peer ({@code rats_get_peer_info_json}),
 * with the JSON's keys as {@link #fields()} and the text as {@link #json()}.
 *
 * @param peerId           the peer's id
 * @param ip               its IP address
 * @param port             its port
 * @param outgoing         whether we dialled it
 * @param version          the peer's agent string
 * @param encrypted        whether the connection is encrypted
 * @param connectionMethod how the connection was made ("direct", ...), or null
 * @param transport        the transport ("tcp", "quic", ...), or null
 * @param address          the peer's address as text, or null
 * @param fields           every key of the JSON (read-only)
 * @param json             the JSON text
 */
public record PeerInfo(
        String peerId,
        String ip,
        int port,
        boolean outgoing,
        String version,
        boolean encrypted,
        String connectionMethod,
        String transport,
        String address,
        Map<String, Object> fields,
        String json) {

    /** Round-trip time in milliseconds, when known. */
    public Double rttMillis() {
        Object v = fields.get("rtt_ms");
        return v instanceof Number ? ((Number) v).doubleValue() : null;
    }

    static PeerInfo parse(String json) {
        Map<String, Object> m = Json.readOnly(Json.parseObject(json));
        return new PeerInfo(
                str(m, "peer_id"),
                str(m, "ip"),
                (int) num(m, "port"),
                bool(m, "is_outgoing"),
                str(m, "version"),
                bool(m, "encryption_enabled"),
                str(m, "connection_method"),
                str(m, "transport"),
                str(m, "address"),
                m,
                json);
    }

    static String str(Map<String, Object> m, String k) {
        Object v = m.get(k);
        return v == null ? null : String.valueOf(v);
    }

    static long num(Map<String, Object> m, String k) {
        Object v = m.get(k);
        return v instanceof Number ? ((Number) v).longValue() : 0L;
    }

    static boolean bool(Map<String, Object> m, String k) {
        return Boolean.TRUE.equals(m.get(k));
    }
}
