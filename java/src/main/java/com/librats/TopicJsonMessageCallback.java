package com.librats;

/**
 * Callback interface for GossipSub topic JSON message events (librats' Java API).
 */
public interface TopicJsonMessageCallback {
    /**
     * A message whose payload is JSON was published on a topic we listen to.
     *
     * @param peerId the publisher (the message's origin, not the peer that forwarded it)
     * @param topic the topic
     * @param jsonStr the payload as compact JSON
     */
    void onTopicJsonMessage(String peerId, String topic, String jsonStr);
}
