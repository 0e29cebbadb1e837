package io.rats;

/** A discovery mechanism found a peer (see {@link Client#onPeerDiscovered}). */
@FunctionalInterface
public interface PeerDiscoveredListener {
    /**
     * @param host   its address
     * @param port   its TCP port
     * @param source what found it: "dht", "mdns", "exchange", ...
     */
    void onPeerDiscovered(String host, int port, String source);
}
