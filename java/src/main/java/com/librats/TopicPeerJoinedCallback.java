package com.librats;

/**
 * Callback interface for GossipSub topic peer joined events (librats' Java API). Not called by this binding yet: see {@link RatsClient#setTopicPeerJoinedCallback}.
 */
public interface TopicPeerJoinedCallback {
    /**
     * A connected peer subscribed to the topic.
     *
     * @param peerId the peer
     * @param topic the topic
     */
    void onTopicPeerJoined(String peerId, String topic);
}
