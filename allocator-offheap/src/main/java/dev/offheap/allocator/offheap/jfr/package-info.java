/**
 * The JDK Flight Recorder events of {@link dev.offheap.allocator.offheap.OffHeapAllocator}, all in category
 * "Off-Heap Allocator". They are emitted only on slow paths (spans taken and given back, purges, the cap,
 * large allocations), so a disabled event costs nothing where allocation is fast.
 *
 * <pre>
 *   jcmd &lt;pid&gt; JFR.start settings=profile   # then look for dev.offheap.allocator.* in JMC
 * </pre>
 */
package dev.offheap.allocator.offheap.jfr;
