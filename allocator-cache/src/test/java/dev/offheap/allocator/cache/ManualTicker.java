package dev.offheap.allocator.cache;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A clock the test moves (expiry without sleeping) and that counts its reads. */
final class ManualTicker implements Ticker {
    private volatile long now = 1_000_000_000L;
    private final AtomicLong reads = new AtomicLong();

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
