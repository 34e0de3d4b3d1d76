package dev.offheap.allocator.cache;

import java.time.Duration;

/** A clock the test moves: expiry without sleeping. */
final class ManualTicker implements Ticker {
    private volatile long now = 1_000_000_000L;

    @Override
    public long read() {
        return now;
    }

    void advance(Duration by) {
        now += by.toNanos();
    }
}
