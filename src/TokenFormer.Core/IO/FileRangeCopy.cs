using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace TokenFormer.Core.IO;

/// <summary>
/// Copies a byte range from one open file to another. On Linux the kernel does it (<c>copy_file_range</c>: page
/// cache to page cache, no user-space buffer to fault in and copy through); where that is unavailable (other systems,
/// file systems or kernels that refuse it) the rest goes through a 4 MiB buffer.
/// </summary>
public static unsafe class FileRangeCopy
{
    private const int BufferBytes = 4 << 20;
    private static volatile bool _kernelCopyUnavailable = !OperatingSystem.IsLinux();

    /// <summary>
    /// Copies up to <paramref name="count"/> bytes of <paramref name="source"/> starting at <paramref name="sourceOffset"/>
    /// to <paramref name="destination"/> at <paramref name="destinationOffset"/>. Returns the number copied, which is
    /// less than <paramref name="count"/> only when the source ends first.
    /// </summary>
    public static long Copy(SafeFileHandle source, long sourceOffset, SafeFileHandle destination, long destinationOffset, long count) =>
        Copy(source, sourceOffset, destination, destinationOffset, count, allowKernelCopy: true);

    /// <summary>As the public form; <paramref name="allowKernelCopy"/> false takes the buffered path (tests).</summary>
    internal static long Copy(SafeFileHandle source, long sourceOffset, SafeFileHandle destination, long destinationOffset, long count,
        bool allowKernelCopy)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        bool sourceEnded = false;
        long done = _kernelCopyUnavailable || !allowKernelCopy ? 0 : KernelCopy(source, sourceOffset, destination, destinationOffset, count, out sourceEnded);
        if (done == count || sourceEnded) return done;
        return done + BufferedCopy(source, sourceOffset + done, destination, destinationOffset + done, count - done);
    }

    private static long KernelCopy(SafeFileHandle source, long sourceOffset, SafeFileHandle destination, long destinationOffset,
        long count, out bool sourceEnded)
    {
        sourceEnded = false;
        long done = 0;
        bool addedSource = false, addedDestination = false;
        try
        {
            source.DangerousAddRef(ref addedSource);
            destination.DangerousAddRef(ref addedDestination);
            int fdIn = (int)source.DangerousGetHandle(), fdOut = (int)destination.DangerousGetHandle();
            while (done < count)
            {
                long inOffset = sourceOffset + done, outOffset = destinationOffset + done;
                nint n;
                try
                {
                    n = copy_file_range(fdIn, &inOffset, fdOut, &outOffset, (nuint)Math.Min(count - done, 1L << 30), 0);
                }
                catch (EntryPointNotFoundException) { _kernelCopyUnavailable = true; break; }
                catch (DllNotFoundException) { _kernelCopyUnavailable = true; break; }
                if (n > 0) { done += n; continue; }
                if (n == 0) { sourceEnded = true; break; }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                // EXDEV, EINVAL, ENOSYS, EOPNOTSUPP…: this pair of files cannot be copied in the kernel; the buffered
                // path finishes (and reports real I/O errors with a message). Only ENOSYS means never again.
                if (errno == ENOSYS) _kernelCopyUnavailable = true;
                break;
            }
        }
        finally
        {
            if (addedSource) source.DangerousRelease();
            if (addedDestination) destination.DangerousRelease();
        }
        return done;
    }

    private static long BufferedCopy(SafeFileHandle source, long sourceOffset, SafeFileHandle destination, long destinationOffset, long count)
    {
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Min(BufferBytes, Math.Max(count, 1)));
        try
        {
            long done = 0;
            while (done < count)
            {
                int n = RandomAccess.Read(source, buffer.AsSpan(0, (int)Math.Min(buffer.Length, count - done)), sourceOffset + done);
                if (n <= 0) break;
                RandomAccess.Write(destination, new ReadOnlySpan<byte>(buffer, 0, n), destinationOffset + done);
                done += n;
            }
            return done;
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    private const int EINTR = 4, ENOSYS = 38;

    [DllImport("libc", SetLastError = true)]
    private static extern nint copy_file_range(int fdIn, long* offIn, int fdOut, long* offOut, nuint length, uint flags);
}
