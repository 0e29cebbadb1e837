package com.librats;

/**
 * Callback interface for GossipSub topic peer left events (librats' Java API). Not called by this binding yet: see {@link RatsClient#setTopicPeerLeftCallback}.
 */
public interface TopicPeerLeftCallback {
    /**
     * A peer unsubscribed from the topic or disconnected.
     *
     * @param peerId the peer
     * @param topic the topic
     */
    void onTopicPeerLeft(String peerId, String topic);
}
