package dev.offheap.allocator.offheap;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Locale;

/**
 * The only place that calls the operating system: {@code mmap}, {@code munmap} and {@code madvise} through
 * FFM downcalls, with {@code errno} captured for the messages. Linux and macOS; {@link #SUPPORTED} says
 * whether this platform is one of them.
 *
 * <p>Thread-safe (stateless).
 */
final class NativeMemory {

    /** Whether mmap-based reservation works here. */
    static final boolean SUPPORTED;
    /** Why not, when {@link #SUPPORTED} is false: to be read after "mmap is unavailable here because". */
    static final String UNAVAILABLE;

    private static final int PROT_READ = 0x1;
    private static final int PROT_WRITE = 0x2;
    private static final int MAP_PRIVATE = 0x02;
    private static final int MAP_ANONYMOUS;
    private static final int MAP_NORESERVE;
    private static final int MADV_DONTNEED = 4;
    /** The OS's page, the unit {@code madvise} works in: 4 KiB on x86-64; 0 where the downcalls are unavailable. */
    static final int OS_PAGE_BYTES;
    private static final long MAP_FAILED = -1L;

    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;
    private static final MethodHandle MADVISE;
    private static final StructLayout CALL_STATE;
    private static final VarHandle ERRNO;

    static {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        boolean linux = os.contains("linux");
        boolean mac = os.contains("mac");
        MAP_ANONYMOUS = linux ? 0x20 : 0x1000;
        MAP_NORESERVE = linux ? 0x4000 : 0x40;
        MethodHandle mmap = null;
        String unavailable = linux || mac ? null : "this platform (" + os + ") is neither Linux nor macOS";
        MethodHandle munmap = null;
        MethodHandle madvise = null;
        StructLayout callState = null;
        VarHandle errno = null;
        int osPage = 0;
        if (linux || mac) {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                callState = Linker.Option.captureStateLayout();
                errno = callState.varHandle(MemoryLayout.PathElement.groupElement("errno"));
                Linker.Option captureErrno = Linker.Option.captureCallState("errno");
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG),
                        captureErrno);
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                        captureErrno);
                madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_INT),
                        captureErrno);
                MethodHandle getpagesize = linker.downcallHandle(libc.find("getpagesize").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT));
                osPage = pageSize(getpagesize);
            } catch (RuntimeException | LinkageError e) {
                mmap = null;
                unavailable = e instanceof IllegalCallerException
                        ? "the JVM denies this code native access (" + e.getMessage() + ")"
                        : "the downcalls could not be linked (" + e + ")";
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
        CALL_STATE = callState;
        ERRNO = errno;
        OS_PAGE_BYTES = mmap != null ? osPage : 0;
        SUPPORTED = mmap != null;
        UNAVAILABLE = unavailable;
    }

    private NativeMemory() {
    }

    private static int pageSize(MethodHandle getpagesize) {
        try {
            return (int) getpagesize.invokeExact();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("getpagesize failed", t);
        }
    }

    /**
     * Reserves {@code byteSize} bytes of address space, readable and writable, backed by memory only when
     * touched ({@code MAP_NORESERVE}: no swap is reserved up front).
     *
     * @return the start address, aligned to the OS page
     * @throws IllegalStateException if the OS refuses, with its errno
     */
    static long reserve(long byteSize) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long address = (long) MMAP.invokeExact(state, 0L, byteSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
            if (address == MAP_FAILED || address == 0) {
                throw new IllegalStateException("mmap of " + byteSize + " bytes of address space failed: errno "
                        + errno(state) + "; lower maxBytes, or raise the limit on virtual memory (ulimit -v)");
            }
            return address;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("mmap failed", t);
        }
    }

    /** Gives the address space back. */
    static void release(long address, long byteSize) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) MUNMAP.invokeExact(state, address, byteSize);
            if (result != 0) {
                throw new IllegalStateException("munmap(0x" + Long.toHexString(address) + ", " + byteSize
                        + ") failed: errno " + errno(state));
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("munmap failed", t);
        }
    }

    /**
     * Hands the pages of a range back to the OS ({@code MADV_DONTNEED}): they stop counting in the process's
     * resident memory and read as zero when next touched.
     */
    static void decommit(long address, long byteSize) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int result = (int) MADVISE.invokeExact(state, address, byteSize, MADV_DONTNEED);
            if (result != 0) {
                throw new IllegalStateException("madvise(0x" + Long.toHexString(address) + ", " + byteSize
                        + ", MADV_DONTNEED) failed: errno " + errno(state));
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("madvise failed", t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }
}
