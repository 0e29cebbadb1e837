package com.librats;

/**
 * Callback interface for GossipSub topic message events (librats' Java API).
 */
public interface TopicMessageCallback {
    /**
     * A message was published on a topic we listen to.
     *
     * @param peerId the publisher (the message's origin, not the peer that forwarded it)
     * @param topic the topic
     * @param message the message as text
     */
    void onTopicMessage(String peerId, String topic, String message);
}
