package dev.offheap.allocator.offheap.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** Free pages handed back to the operating system. */
@Name("dev.offheap.allocator.Purge")
@Label("Purge to the OS")
@Category("Off-Heap Allocator")
@Description("Free pages handed back to the operating system (madvise MADV_DONTNEED)")
@StackTrace(false)
public final class PurgeEvent extends Event {
    @Label("Allocator")
    public String allocator;

    @Label("Returned")
    @DataAmount
    public long bytes;
}
