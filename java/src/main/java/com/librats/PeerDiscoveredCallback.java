package com.librats;

/**
 * Callback interface for discovered peers (librats' Java API README).
 */
public interface PeerDiscoveredCallback {
    /**
     * Something found a peer we could connect to.
     *
     * @param host its address
     * @param port its TCP port
     * @param serviceName what found it in rats: "mdns", "dht", "exchange", ... (librats passed
     *                    the mDNS service name)
     */
    void onPeerDiscovered(String host, int port, String serviceName);
}
