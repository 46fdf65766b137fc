using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace TokenFormer.Cli.Tests.Reliability;

/// <summary>
/// HTTP/1.1 by hand over a socket, for clients that misbehave in ways HttpClient will not: headers or a body sent a
/// byte at a time, a body never sent, a stream never read, a connection opened and left idle.
/// </summary>
internal static class RawHttp
{
    /// <summary>A connected loopback socket to <paramref name="server"/>'s port (a small receive buffer if asked).</summary>
    public static async Task<Socket> Connect(Uri server, int? receiveBuffer = null)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBuffer is int size) s.ReceiveBufferSize = size;
        await s.ConnectAsync(IPAddress.Loopback, server.Port);
        return s;
    }

    /// <summary>The request line and headers of a JSON POST whose body is <paramref name="contentLength"/> bytes.</summary>
    public static byte[] PostHead(string path, long contentLength) => Encoding.ASCII.GetBytes(
        $"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {contentLength}\r\n\r\n");

    /// <summary>A whole JSON POST.</summary>
    public static byte[] Post(string path, string json)
    {
        byte[] body = Encoding.UTF8.GetBytes(json);
        return [.. PostHead(path, body.Length), .. body];
    }

    /// <summary>
    /// Reads until the server closes the connection (or resets it) or <paramref name="timeout"/> passes: what arrived,
    /// and whether the connection was closed by then.
    /// </summary>
    public static async Task<(string Text, bool Closed)> ReadUntilClosed(Socket s, TimeSpan timeout)
    {
        var buffer = new byte[1 << 16];
        var received = new MemoryStream();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                int n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0) return (Encoding.UTF8.GetString(received.ToArray()), true);
                received.Write(buffer, 0, n);
            }
        }
        catch (OperationCanceledException)
        {
            return (Encoding.UTF8.GetString(received.ToArray()), false);
        }
        catch (SocketException)
        {
            return (Encoding.UTF8.GetString(received.ToArray()), true);
        }
    }

    /// <summary>Whether the peer has closed <paramref name="s"/> (readable with nothing to read), without blocking.</summary>
    public static bool ClosedByPeer(Socket s)
    {
        try
        {
            return s.Poll(0, SelectMode.SelectRead) && s.Available == 0;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    /// <summary>
    /// Makes sure this process may hold <paramref name="needed"/> file descriptors (both ends of every loopback
    /// connection are in the test process): raises the soft limit, and as root the hard one, when they are lower.
    /// Returns the soft limit in force.
    /// </summary>
    public static ulong EnsureFileDescriptors(ulong needed)
    {
        if (!OperatingSystem.IsLinux()) return needed;
        if (getrlimit(RlimitNofile, out Rlimit limit) != 0) return 0;
        if (limit.Current >= needed) return limit.Current;
        var wanted = new Rlimit { Current = needed, Maximum = Math.Max(limit.Maximum, needed) };
        if (setrlimit(RlimitNofile, ref wanted) != 0)
        {
            wanted = new Rlimit { Current = limit.Maximum, Maximum = limit.Maximum };
            setrlimit(RlimitNofile, ref wanted);
        }
        getrlimit(RlimitNofile, out limit);
        return limit.Current;
    }

    private const int RlimitNofile = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct Rlimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out Rlimit limit);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, ref Rlimit limit);
}
