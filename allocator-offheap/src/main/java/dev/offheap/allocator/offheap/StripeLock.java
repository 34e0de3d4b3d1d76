package dev.offheap.allocator.offheap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The lock of a shared cache ({@link SharedCaches}): a test-and-CAS word, released by a plain release store.
 *
 * <p>Why not a {@link java.util.concurrent.locks.ReentrantLock}: its unlock is a volatile write (a full fence on
 * x86) followed by a look for parked waiters, and a shared cache is locked twice per allocate/free pair of a
 * virtual thread. Here the unlock is an ordinary store with release order, and nobody parks waiting to be woken:
 * the few callers that must wait ({@link #lock}) back off, spinning briefly, then sleeping for growing times, so
 * an owner that lost its carrier or its core is never assumed to run again soon.
 *
 * <p>Not reentrant. Thread-safe.
 */
final class StripeLock extends StripeLockPadAfter {
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(StripeLockState.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Spins before the first sleep: a holder on another core finishes a pop in well under a microsecond. */
    private static final int SPINS = 128;
    private static final long FIRST_SLEEP_NANOS = TimeUnit.MICROSECONDS.toNanos(1);
    private static final long LONGEST_SLEEP_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    /** Takes the lock if it is free right now. */
    boolean tryLock() {
        return state == 0 && STATE.compareAndSet(this, 0, 1);
    }

    /** Takes the lock, waiting for it: a bounded spin, then sleeps that double up to a millisecond. */
    void lock() {
        if (tryLock()) {
            return;
        }
        for (int spin = 0; spin < SPINS; spin++) {
            Thread.onSpinWait();
            if (tryLock()) {
                return;
            }
        }
        long sleep = FIRST_SLEEP_NANOS;
        while (!tryLock()) {
            LockSupport.parkNanos(this, sleep);
            sleep = Math.min(2 * sleep, LONGEST_SLEEP_NANOS);
        }
    }

    /** Releases the lock; the caller holds it. */
    void unlock() {
        STATE.setRelease(this, 0);
    }

    /** Whether some thread holds the lock (a racy read, for assertions and reports). */
    boolean isLocked() {
        return state != 0;
    }
}

/** Padding before the lock word: a superclass's fields come first in the object, and these fill its line. */
abstract class StripeLockPadBefore {
    @SuppressWarnings("unused")
    private int p00; // fills the gap after the header, which a subclass's int could otherwise take
    @SuppressWarnings("unused")
    private long p01, p02, p03, p04, p05, p06, p07, p08;
}

/** The lock word, alone on its cache line between the two paddings. */
abstract class StripeLockState extends StripeLockPadBefore {
    /** 1 while held. */
    volatile int state;
}

/** Padding after the lock word. */
abstract class StripeLockPadAfter extends StripeLockState {
    @SuppressWarnings("unused")
    private long p11, p12, p13, p14, p15, p16, p17, p18;
}
