package dev.offheap.allocator.cache;

import java.time.Duration;

/** A clock the test moves: expiry without sleeping. */
final class ManualTicker implements Ticker {
    private volatile long now = 1_000_000_000L;
    private final java.util.concurrent.atomic.AtomicLong reads = new java.util.concurrent.atomic.AtomicLong();

    @Override
    public long read() {
        reads.incrementAndGet();
        return now;
    }

    /** How many times the cache read this clock. */
    long reads() {
        return reads.get();
    }

    void advance(Duration by) {
        now += by.toNanos();
    }
}
