package dev.offheap.allocator.cache;

/**
 * The cache's clock for times to live: nanoseconds from an arbitrary origin, as {@link System#nanoTime()}
 * (the default, {@link #system()}). Tests give one they advance by hand, so that expiry needs no sleep; as
 * Caffeine's {@code Ticker}.
 */
@FunctionalInterface
public interface Ticker {

    /** Nanoseconds since an arbitrary origin; never going back. */
    long read();

    /** {@link System#nanoTime()}. */
    static Ticker system() {
        return System::nanoTime;
    }
}
