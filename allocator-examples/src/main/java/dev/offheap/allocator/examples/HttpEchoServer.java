package dev.offheap.allocator.examples;

import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.netty.OffHeapByteBufAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocator;
import dev.offheap.allocator.offheap.OffHeapAllocatorConfig;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * A Netty 4.2 HTTP/1.1 server whose channels take every buffer from an {@link OffHeapByteBufAllocator}: how a
 * service plugs the allocator into Netty ({@link ChannelOption#ALLOCATOR} on the server channel and on every
 * child), and the server of the benchmark harness's {@code netty-server} workload, where it runs with Netty's
 * pooled and adaptive allocators too. A POST's body comes back as the response's body, copied into a buffer
 * of the channel's allocator, as a service writes a response it computed; any other request gets an empty 200.
 * Keep-alive and pipelined requests as HTTP/1.1 has them. Epoll where Netty's native transport loads, NIO
 * otherwise.
 *
 * <p>Run alone: {@code java -cp ... dev.offheap.allocator.examples.HttpEchoServer [offheap|pooled|adaptive]
 * [port] [event loop threads]}. It prints {@code LISTENING port=<port> transport=<epoll|nio> buffers=<kind>},
 * serves until its standard input ends or reads {@code stop}, then stops the event loops and prints
 * {@code STOPPED} with what the allocator still holds: for {@code offheap}, the live blocks and committed bytes
 * (0 live blocks means every buffer Netty took was given back).
 */
public final class HttpEchoServer implements AutoCloseable {

    /** Where the server's buffers come from. */
    public enum Buffers {
        /** {@link OffHeapByteBufAllocator} over an {@link OffHeapAllocator} of its own. */
        OFFHEAP,
        /** Netty's {@link PooledByteBufAllocator#DEFAULT}, what Netty 4.1 used by default. */
        POOLED,
        /** Netty's {@link AdaptiveByteBufAllocator}, direct, what Netty 4.2 uses by default. */
        ADAPTIVE;

        static Buffers parse(String name) {
            try {
                return valueOf(name.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown buffers '" + name + "'; known: offheap, pooled, adaptive",
                        e);
            }
        }
    }

    /** The largest request body the server takes; a longer one gets 413 and the connection is closed. */
    public static final int MAX_BODY_BYTES = 1 << 20;

    private final Buffers buffers;
    private final OffHeapAllocator memory;
    private final ByteBufAllocator alloc;
    private final EventLoopGroup group;
    private final Channel serverChannel;
    private final boolean epoll;

    private HttpEchoServer(Buffers buffers, int port, int threads) throws InterruptedException {
        this.buffers = buffers;
        this.memory = buffers == Buffers.OFFHEAP
                ? OffHeapAllocator.create(new OffHeapAllocatorConfig().name("http-echo").maxBytes(1L << 30)) : null;
        this.alloc = switch (buffers) {
            case OFFHEAP -> new OffHeapByteBufAllocator(memory);
            case POOLED -> PooledByteBufAllocator.DEFAULT;
            case ADAPTIVE -> new AdaptiveByteBufAllocator(true, false);
        };
        this.epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class
                : NioServerSocketChannel.class;
        this.group = new MultiThreadIoEventLoopGroup(threads, io);
        try {
            // tag::netty-server[]
            Channel listening = new ServerBootstrap()
                    .group(group)
                    .channel(channelType)                              // epoll where it loads, else NIO
                    .option(ChannelOption.ALLOCATOR, alloc)            // alloc = new OffHeapByteBufAllocator(memory)
                    .childOption(ChannelOption.ALLOCATOR, alloc)       // every connection's buffers
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel channel) {
                            channel.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(MAX_BODY_BYTES),
                                    new Echo());
                        }
                    })
                    .bind(new InetSocketAddress("127.0.0.1", port)).sync().channel();
            // end::netty-server[]
            this.serverChannel = listening;
        } catch (InterruptedException | RuntimeException e) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).syncUninterruptibly();
            if (memory != null) {
                memory.close();
            }
            throw e;
        }
    }

    /**
     * Starts a server on 127.0.0.1.
     *
     * @param port    0 for any free port ({@link #port()} tells which)
     * @param threads event loop threads
     */
    public static HttpEchoServer start(Buffers buffers, int port, int threads) throws InterruptedException {
        if (threads < 1) {
            throw new IllegalArgumentException("threads " + threads + ": a server needs at least one event loop");
        }
        return new HttpEchoServer(buffers, port, threads);
    }

    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** "epoll" or "nio". */
    public String transport() {
        return epoll ? "epoll" : "nio";
    }

    /** The channels' allocator. */
    public ByteBufAllocator alloc() {
        return alloc;
    }

    /** Direct bytes the channels' allocator reports in use (Netty's metric). */
    public long usedDirectMemory() {
        return ((ByteBufAllocatorMetricProvider) alloc).metric().usedDirectMemory();
    }

    /** For {@link Buffers#OFFHEAP}, the allocator's figures (live blocks, committed bytes); else null. */
    public AllocatorStats offHeapStats() {
        return memory == null ? null : memory.stats();
    }

    /**
     * Closes the listening channel and every connection and stops the event loops (waiting for them): after this
     * the server holds no buffer. The allocator stays open for its figures until {@link #close()}.
     */
    public synchronized void stopServing() {
        if (group.isShuttingDown()) {
            return;
        }
        serverChannel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** {@link #stopServing()}, then closes the off-heap allocator if the server made one. */
    @Override
    public void close() {
        stopServing();
        if (memory != null) {
            memory.close();
        }
    }

    /** The one handler of the application: a full request in, a response with the same body out. */
    private static final class Echo extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            ByteBuf content = request.content();
            ByteBuf body = ctx.alloc().buffer(content.readableBytes());
            body.writeBytes(content, content.readerIndex(), content.readableBytes());
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                    body);
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
            if (HttpUtil.isKeepAlive(request)) {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                ctx.writeAndFlush(response, ctx.voidPromise());
            } else {
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a client that went away mid-request; nothing to answer
        }
    }

    public static void main(String[] args) throws InterruptedException, IOException {
        Buffers buffers = Buffers.parse(args.length > 0 ? args[0] : "offheap");
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 8080;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : Runtime.getRuntime().availableProcessors();
        HttpEchoServer server = start(buffers, port, threads);
        System.out.printf(Locale.ROOT, "LISTENING port=%d transport=%s buffers=%s%n", server.port(),
                server.transport(), buffers.name().toLowerCase(Locale.ROOT));
        System.out.flush();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null && !line.strip().equals("stop")) {
                // serve until told to stop or the parent goes away
            }
        }
        server.stopServing();
        AllocatorStats stats = server.offHeapStats();
        System.out.printf(Locale.ROOT, "STOPPED buffers=%s usedDirectMemory=%d%s%n",
                buffers.name().toLowerCase(Locale.ROOT), server.usedDirectMemory(), stats == null ? ""
                        : " liveBlocks=" + stats.liveBlocks() + " committedBytes=" + stats.committedBytes());
        server.close();
    }
}
