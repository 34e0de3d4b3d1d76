package dev.offheap.allocator.bench;

import dev.offheap.allocator.examples.HttpEchoServer;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.Version;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static dev.offheap.allocator.bench.Rounds.median;
import static dev.offheap.allocator.bench.Rounds.spread;

/**
 * Workload {@code netty-server}: {@link HttpEchoServer}, a Netty 4.2 HTTP/1.1 server in a JVM of its own, with its
 * channels' buffers from each of three allocators in turn (the off-heap adapter, Netty's pooled and adaptive
 * allocators), driven by a Netty client in this JVM over {@value #CONNECTIONS} keep-alive connections on
 * 127.0.0.1. Request bodies: 90% log-uniform 64 B-4 KiB, 10% 4-256 KiB; the server copies each into a response
 * buffer of its allocator. The server has one event loop and the client one, a core each on a 2-core machine.
 *
 * <p>Per run of a server: a warm-up at full speed (the very paths measured), then
 * <ol>
 *   <li><b>full speed</b>: each connection sends its next request when the last response arrives; requests per
 *       second and the latency percentiles;</li>
 *   <li><b>fixed rate</b>: requests sent on a schedule at {@code rate} per second whatever the responses do
 *       (pipelined on the connections, round robin), each latency counted from the request's scheduled time, so
 *       a stall delays every request behind it in the figures too (no coordinated omission);</li>
 * </ol>
 * and the server's CPU time per request at full speed, user and system (from /proc), then the server's resident growth (VmHWM over its VmRSS once listening, Java heap pre-touched), and, after the
 * server stopped its event loops, what its allocator still holds (live blocks for the off-heap allocator). The three
 * servers run in a rotating order, {@code rounds} times; the harness's table shows medians with min and max.
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -cp ... dev.offheap.allocator.bench.NettyServerBench [rounds] [rate]
 *     [warm s] [full s] [fixed s]</pre>
 */
public final class NettyServerBench {

    static final List<String> BUFFERS = List.of("offheap", "pooled", "adaptive");
    static final int CONNECTIONS = 16;
    static final int DEFAULT_ROUNDS = 5;
    /** Requests per second in the fixed-rate phase: well under every server's full speed on 2 cores. */
    static final int DEFAULT_RATE = 4_000;
    /** Distinct request bodies, drawn from the size mix once. */
    private static final int BODIES = 512;

    private NettyServerBench() {
    }

    /** One run of one server. Latencies in microseconds. */
    record Result(String buffers, int round, double fullRps, double fullP50, double fullP99, double fullP999,
                  int rate, double fixedRps, double fixedP50, double fixedP99, double fixedP999, double rssGrowthMb,
                  double serverUserUs, double serverSysUs, long errors, String afterStop, String transport) {
        String line() {
            return String.format(Locale.ROOT, "RESULT netty-server buffers=%s round=%d fullRps=%.0f fullP50=%.1f"
                            + " fullP99=%.1f fullP999=%.1f rate=%d fixedRps=%.0f fixedP50=%.1f fixedP99=%.1f"
                            + " fixedP999=%.1f rssGrowthMb=%.1f serverUserUs=%.2f serverSysUs=%.2f errors=%d"
                            + " transport=%s afterStop=%s", buffers, round, fullRps, fullP50, fullP99, fullP999, rate,
                    fixedRps, fixedP50, fixedP99, fixedP999, rssGrowthMb, serverUserUs, serverSysUs, errors,
                    transport, afterStop);
        }
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : DEFAULT_ROUNDS;
        int rate = args.length > 1 ? Integer.parseInt(args[1]) : DEFAULT_RATE;
        double warm = args.length > 2 ? Double.parseDouble(args[2]) : 2;
        double full = args.length > 3 ? Double.parseDouble(args[3]) : 3;
        double fixed = args.length > 4 ? Double.parseDouble(args[4]) : 3;
        ByteBuf[] bodies = bodies(new SplittableRandom(7));
        // This JVM's client code is compiled before any measured run, or the first server measured pays for it
        // (its full speed read 30% lower in round 1 than in rounds 2 and 3).
        run(BUFFERS.getFirst(), 0, rate, 3 * warm, full, fixed, bodies);
        for (int round = 1; round <= rounds; round++) {
            for (int i = 0; i < BUFFERS.size(); i++) {
                String buffers = BUFFERS.get((i + round - 1) % BUFFERS.size()); // each server goes first in turn
                System.out.println(run(buffers, round, rate, warm, full, fixed, bodies).line());
                System.out.flush();
            }
        }
    }

    /** 90% log-uniform 64 B-4 KiB, 10% log-uniform 4-256 KiB; unreleasable, so requests send duplicates. */
    static ByteBuf[] bodies(SplittableRandom random) {
        ByteBuf[] bodies = new ByteBuf[BODIES];
        for (int i = 0; i < BODIES; i++) {
            int size = random.nextInt(10) != 0 ? logUniform(random, 64, 4 << 10) : logUniform(random, 4 << 10,
                    256 << 10);
            byte[] bytes = new byte[size];
            random.nextBytes(bytes);
            bodies[i] = Unpooled.unreleasableBuffer(Unpooled.directBuffer(size).writeBytes(bytes));
        }
        return bodies;
    }

    private static int logUniform(SplittableRandom random, int from, int to) {
        return (int) Math.exp(Math.log(from) + random.nextDouble() * (Math.log(to) - Math.log(from)));
    }

    static Result run(String buffers, int round, int rate, double warm, double full, double fixed, ByteBuf[] bodies)
            throws Exception {
        List<String> command = ChildJvm.command();
        command.addAll(1, List.of("-Xms1g", "-XX:+AlwaysPreTouch"));
        String extra = System.getProperty("netty.server.jvmArgs", "").replace("{buffers}", buffers);
        if (!extra.isBlank()) {
            command.addAll(1, List.of(extra.strip().split("\\s+"))); // e.g. a flight recording per server
        }
        command.addAll(List.of(HttpEchoServer.class.getName(), buffers, "0", "1"));
        Process server = new ProcessBuilder(command).redirectErrorStream(true).start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(server.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException e) {
                lines.add("READ FAILED " + e);
            }
        });
        try {
            String listening = awaitLine(lines, "LISTENING ", 60);
            int port = Integer.parseInt(field(listening, "port"));
            String transport = field(listening, "transport");
            long rssBefore = ResidentMemory.status(server.pid(), "VmRSS");
            Phase fullPhase;
            Phase fixedPhase;
            long errors;
            double userUs;
            double sysUs;
            try (Load load = new Load(port, bodies)) {
                load.closedLoop(warm);
                long[] cpuBefore = cpuTicks(server.pid());
                fullPhase = load.closedLoop(full);
                long[] cpuAfter = cpuTicks(server.pid());
                userUs = (cpuAfter[0] - cpuBefore[0]) * 1e6 / TICKS_PER_SECOND / fullPhase.count;
                sysUs = (cpuAfter[1] - cpuBefore[1]) * 1e6 / TICKS_PER_SECOND / fullPhase.count;
                fixedPhase = load.fixedRate(rate, fixed);
                errors = load.errors();
            }
            long rssPeak = ResidentMemory.status(server.pid(), "VmHWM");
            try (OutputStream stdin = server.getOutputStream()) {
                stdin.write("stop\n".getBytes(StandardCharsets.US_ASCII));
            }
            String stopped = awaitLine(lines, "STOPPED ", 30);
            String afterStop = stopped.contains("liveBlocks=") ? "liveBlocks:" + field(stopped, "liveBlocks")
                    : "usedDirectMemory:" + field(stopped, "usedDirectMemory");
            server.waitFor(15, TimeUnit.SECONDS);
            return new Result(buffers, round, fullPhase.perSecond(), fullPhase.percentileMicros(0.50),
                    fullPhase.percentileMicros(0.99), fullPhase.percentileMicros(0.999), rate, fixedPhase.perSecond(),
                    fixedPhase.percentileMicros(0.50), fixedPhase.percentileMicros(0.99),
                    fixedPhase.percentileMicros(0.999), (rssPeak - rssBefore) / 1e6, userUs, sysUs, errors,
                    afterStop, transport);
        } finally {
            server.destroyForcibly();
            reader.join(5_000);
        }
    }

    // -------------------------------------------------------------------------------------------------------
    // The harness's table

    /** Workload {@code netty-server} for the harness: this class's main in a JVM of its own, then its table. */
    static void table(Report report) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(ChildJvm.command());
        command.add(NettyServerBench.class.getName());
        String output = ChildJvm.run(command, Optional.empty());
        String netty = Optional.ofNullable(Version.identify().get("netty-codec-http")).map(Version::artifactVersion)
                .orElse("4.2");
        Report.Table table = new Report.Table("netty-server", "A Netty HTTP server",
                "Workload `netty-server`: `HttpEchoServer` (allocator-examples), a Netty " + netty + " HTTP/1.1 server in a JVM of its own, one event loop, its channels' buffers from the off-heap"
                        + " adapter (`OffHeapByteBufAllocator`), Netty's pooled allocator or Netty's adaptive one;"
                        + " a Netty client in another JVM, one event loop, " + CONNECTIONS + " keep-alive"
                        + " connections on 127.0.0.1; POST bodies 90% log-uniform 64 B-4 KiB, 10% 4-256 KiB, echoed"
                        + " through a response buffer of the server's allocator. Full speed: each connection sends"
                        + " when its last response came. Fixed rate: " + DEFAULT_RATE + " requests/s on a schedule,"
                        + " latency from each request's scheduled time (no coordinated omission). Server CPU: user +"
                        + " system time per request at full speed (/proc). Resident growth: the server's VmHWM over"
                        + " its VmRSS once listening (heap pre-touched). After stop: what the allocator still holds"
                        + " once the event loops have stopped. Medians of " + DEFAULT_ROUNDS + " rounds (servers in a"
                        + " rotating order; the client warmed up first), min-max in brackets.",
                List.of("buffers", "full speed, req/s", "full speed p50 / p99 / p99.9, us",
                        "at " + DEFAULT_RATE + "/s: p50 / p99 / p99.9, us", "server CPU, us/req", "resident growth, MB",
                        "after stop", "errors"),
                "full-speed req/s / Netty pooled's");
        Map<String, List<Map<String, String>>> runs = new LinkedHashMap<>();
        BUFFERS.forEach(buffers -> runs.put(buffers, new ArrayList<>()));
        output.lines().filter(l -> l.startsWith("RESULT netty-server ")).forEach(line -> {
            Map<String, String> fields = Rounds.fields(line, "RESULT netty-server ");
            if (!fields.get("round").equals("0")) {
                runs.get(fields.get("buffers")).add(fields);
            }
        });
        if (runs.values().stream().allMatch(List::isEmpty)) {
            table.add(List.of("-", "-", "-", "-", "-", "-", "-", "failed: " + ChildJvm.failure(output)));
            report.tables.add(table);
            return;
        }
        double pooledRps = median(runs.get("pooled"), "fullRps");
        for (Map.Entry<String, List<Map<String, String>>> entry : runs.entrySet()) {
            List<Map<String, String>> rows = entry.getValue();
            String peer = "netty-" + entry.getKey();
            if (rows.isEmpty()) {
                table.add(List.of(peer, "-", "-", "-", "-", "-", "-", "no run"));
                continue;
            }
            table.add(List.of(peer, spread(rows, "fullRps", 1, "%.0f"),
                    percentiles(rows, "fullP50", "fullP99", "fullP999"),
                    percentiles(rows, "fixedP50", "fixedP99", "fixedP999"),
                    String.format(Locale.ROOT, "%.2f + %.2f", median(rows, "serverUserUs"),
                            median(rows, "serverSysUs")),
                    spread(rows, "rssGrowthMb", 1, "%.1f"),
                    rows.stream().map(r -> r.get("afterStop").replace(':', ' ')).distinct()
                            .collect(Collectors.joining(", ")),
                    Long.toString(rows.stream().mapToLong(r -> Long.parseLong(r.get("errors"))).sum())));
            table.chart.put(peer, median(rows, "fullRps") / pooledRps);
            for (String metric : List.of("fullRps", "fullP99", "fixedP99", "fixedP999", "rssGrowthMb")) {
                report.csv("netty-server", peer, "median of " + rows.size(), metric, median(rows, metric),
                        metric.endsWith("Rps") ? "req/s" : metric.endsWith("Mb") ? "MB" : "us");
            }
        }
        report.tables.add(table);
    }

    private static String percentiles(List<Map<String, String>> rows, String... fields) {
        return Arrays.stream(fields).map(f -> String.format(Locale.ROOT, "%.0f", median(rows, f)))
                .collect(Collectors.joining(" / "));
    }

    /** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux everywhere). */
    private static final double TICKS_PER_SECOND = 100;

    /** The process's user and system CPU time so far, in clock ticks; zeros where /proc is not. */
    static long[] cpuTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" "); // the name may hold spaces
            return new long[] {Long.parseLong(fields[11]), Long.parseLong(fields[12])}; // utime, stime: fields 14, 15
        } catch (IOException | RuntimeException e) {
            return new long[2];
        }
    }

    private static String awaitLine(BlockingQueue<String> lines, String prefix, int seconds)
            throws InterruptedException {
        long giveUpAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        List<String> seen = new ArrayList<>();
        for (long left; (left = giveUpAt - System.nanoTime()) > 0; ) {
            String line = lines.poll(left, TimeUnit.NANOSECONDS);
            if (line == null) {
                break;
            }
            if (line.startsWith(prefix)) {
                return line;
            }
            seen.add(line);
        }
        throw new IllegalStateException("the server printed no '" + prefix.strip() + "' line in " + seconds
                + " s; its output: " + String.join(" | ", seen.subList(Math.max(0, seen.size() - 5), seen.size())));
    }

    private static String field(String line, String name) {
        for (String part : line.split(" ")) {
            if (part.startsWith(name + "=")) {
                return part.substring(name.length() + 1);
            }
        }
        throw new IllegalStateException("no " + name + " in '" + line + "'");
    }

    /** The latencies of one phase, recorded on the client's event loop only. */
    static final class Phase {
        private long[] nanos = new long[1 << 16];
        int count;
        private long startedAt;
        private long endedAt;
        boolean open;

        void record(long latency) {
            if (count == nanos.length) {
                nanos = Arrays.copyOf(nanos, count * 2);
            }
            nanos[count++] = latency;
        }

        double perSecond() {
            return count / ((endedAt - startedAt) / 1e9);
        }

        double percentileMicros(double p) {
            if (count == 0) {
                return Double.NaN;
            }
            long[] sorted = Arrays.copyOf(nanos, count);
            Arrays.sort(sorted);
            return sorted[(int) Math.min(count - 1, Math.ceil(p * count) - 1)] / 1e3;
        }
    }

    /**
     * The client: {@value #CONNECTIONS} connections on one event loop thread, so that every field here is touched
     * by that thread only (the main thread only submits tasks and waits).
     */
    static final class Load implements AutoCloseable {
        private final MultiThreadIoEventLoopGroup group;
        private final EventLoop loop;
        private final List<Connection> connections = new ArrayList<>();
        private final ByteBuf[] bodies;
        private final SplittableRandom random = new SplittableRandom(11);
        private Phase phase;
        private boolean closedLoop;
        private long errors;

        Load(int port, ByteBuf[] bodies) throws InterruptedException {
            this.bodies = bodies;
            boolean epoll = Epoll.isAvailable();
            this.group = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory()
                    : NioIoHandler.newFactory());
            this.loop = group.next();
            Bootstrap bootstrap = new Bootstrap().group(group)
                    .channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true);
            for (int i = 0; i < CONNECTIONS; i++) {
                Connection connection = new Connection();
                bootstrap.handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        channel.pipeline().addLast(new HttpClientCodec(),
                                new HttpObjectAggregator(HttpEchoServer.MAX_BODY_BYTES), connection);
                    }
                });
                connection.channel = bootstrap.connect("127.0.0.1", port).sync().channel();
                connections.add(connection);
            }
        }

        /** Full speed for {@code seconds}: a request per connection in flight at all times. */
        Phase closedLoop(double seconds) throws Exception {
            Phase measured = new Phase();
            loop.submit(() -> {
                phase = measured;
                closedLoop = true;
                measured.open = true;
                measured.startedAt = System.nanoTime();
                for (Connection connection : connections) {
                    connection.send(System.nanoTime());
                }
            }).sync();
            Thread.sleep((long) (seconds * 1000));
            return close(measured);
        }

        /**
         * {@code rate} requests per second for {@code seconds}, on a schedule that does not wait for responses:
         * a timer task on the event loop sends every request whose time has come, then sleeps until the next.
         */
        Phase fixedRate(int rate, double seconds) throws Exception {
            Phase measured = new Phase();
            long interval = 1_000_000_000L / rate;
            loop.submit(() -> {
                phase = measured;
                closedLoop = false;
                measured.open = true;
                measured.startedAt = System.nanoTime();
                new Runnable() {
                    long next = measured.startedAt;
                    int connection;

                    @Override
                    public void run() {
                        if (!measured.open) {
                            return;
                        }
                        for (long now = System.nanoTime(); next <= now; next += interval) {
                            connections.get(connection++ % CONNECTIONS).send(next);
                        }
                        loop.schedule(this, next - System.nanoTime(), TimeUnit.NANOSECONDS);
                    }
                }.run();
            }).sync();
            Thread.sleep((long) (seconds * 1000));
            return close(measured);
        }

        /** Ends the phase's sending, then waits for the responses still in flight (they are counted in it). */
        private Phase close(Phase measured) throws Exception {
            loop.submit(() -> {
                measured.open = false;
                closedLoop = false;
            }).sync();
            long giveUpAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (loop.submit(this::inFlight).get() > 0) {
                if (System.nanoTime() > giveUpAt) {
                    throw new IllegalStateException("responses still missing 30 s after the phase ended");
                }
                Thread.sleep(1);
            }
            loop.submit(() -> measured.endedAt = System.nanoTime()).sync();
            return measured;
        }

        private int inFlight() {
            int inFlight = 0;
            for (Connection connection : connections) {
                inFlight += connection.inFlight();
            }
            return inFlight;
        }

        long errors() throws Exception {
            return loop.submit(() -> errors).get();
        }

        @Override
        public void close() throws InterruptedException {
            for (Connection connection : connections) {
                connection.channel.close().sync();
            }
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
        }

        /** One connection: requests go out in order, responses come back in order (HTTP/1.1 pipelining). */
        private final class Connection extends SimpleChannelInboundHandler<FullHttpResponse> {
            Channel channel;
            private long[] sentAt = new long[64];
            private int[] sentBytes = new int[64];
            private int head;
            private int tail;

            int inFlight() {
                return tail - head;
            }

            void send(long scheduledAt) {
                ByteBuf body = bodies[random.nextInt(BODIES)].duplicate();
                if (tail - head == sentAt.length) {
                    grow();
                }
                int at = tail++ & (sentAt.length - 1);
                sentAt[at] = scheduledAt;
                sentBytes[at] = body.readableBytes();
                FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/echo",
                        body);
                request.headers().set(HttpHeaderNames.HOST, "127.0.0.1")
                        .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
                channel.writeAndFlush(request, channel.voidPromise());
            }

            private void grow() {
                long[] times = new long[sentAt.length * 2];
                int[] bytes = new int[sentAt.length * 2];
                for (int i = head; i < tail; i++) {
                    times[i & (times.length - 1)] = sentAt[i & (sentAt.length - 1)];
                    bytes[i & (bytes.length - 1)] = sentBytes[i & (sentBytes.length - 1)];
                }
                sentAt = times;
                sentBytes = bytes;
            }

            @Override
            protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
                long now = System.nanoTime();
                int at = head++ & (sentAt.length - 1);
                if (!response.status().equals(HttpResponseStatus.OK)
                        || response.content().readableBytes() != sentBytes[at]) {
                    errors++;
                }
                phase.record(now - sentAt[at]);
                if (closedLoop && phase.open) {
                    send(System.nanoTime());
                }
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                errors++;
                ctx.close();
            }
        }
    }
}
