using System.IO.Compression;
using System.Text;
using TokenFormer.Text;
using TokenFormer.Text.Data;

namespace TokenFormer.Text.Tests.Data;

// After the namespace line, so that Fixtures means the shared training data rather than this project's Fixtures class.
using Fixtures = TokenFormer.TestSupport.TrainingFixtures;

public class PrepareTests
{
    private static Tokenizer Tok => Fixtures.Tokenizer;
    private static int Eot => Tok.EndOfTextId!.Value;

    private static (DatasetMeta Meta, int[] Train, int[] Val) Prepare(string dir, PrepareOptions options)
    {
        DatasetMeta meta = DataPreparer.Run(Tok, options);
        return (meta, ReadSplit(dir, "train"), ReadSplit(dir, "val"));
    }

    private static int[] ReadSplit(string dir, string split)
    {
        using TokenDataset ds = TokenDataset.Open(dir, split);
        var ids = new int[ds.Count];
        ds.CopyTo(0, ids);
        return ids;
    }

    private static int[] Docs(params string[] docs) => docs.SelectMany(d => Tok.Encode(d).Append(Eot)).ToArray();

    [Fact]
    public void FileBoundary_KeepsEachFileExactly_AndAppendsEndOfText()
    {
        string dir = Fixtures.TempDir("prep-file");
        string a = Path.Combine(dir, "a.txt"), b = Path.Combine(dir, "b.txt");
        File.WriteAllText(a, "Fellow-Citizens of the Senate,\n\nI embrace with great satisfaction.\n");
        File.WriteAllText(b, "no trailing newline here");
        string output = Path.Combine(dir, "data");
        var (meta, train, val) = Prepare(output, new PrepareOptions { Inputs = [a, b], OutputDirectory = output, ValFraction = 0 });
        Assert.Equal(Docs(File.ReadAllText(a), "no trailing newline here"), train);
        Assert.Empty(val);
        Assert.Equal(2, meta.TrainDocuments);
        Assert.Equal(train.Length, meta.TrainTokens);
        Assert.Equal("uint16", meta.DType);
        Assert.Equal(Tok.ContentHash, meta.TokenizerHash);
        Assert.Equal(2L * train.Length, new FileInfo(Path.Combine(output, "train.bin")).Length);
        Assert.Equal(Tok.ContentHash, Tokenizer.Load(Path.Combine(output, "tokenizer.json")).ContentHash);
    }

    [Fact]
    public void BlankLineBoundary_SplitsParagraphs_AndDropsTheirLastLineEnding()
    {
        string dir = Fixtures.TempDir("prep-blank");
        string a = Path.Combine(dir, "a.txt");
        File.WriteAllText(a, "\n\nfirst line\nsecond line\r\n\r\n \t\n\nthird\n\n\nlast without newline");
        string output = Path.Combine(dir, "data");
        var (meta, train, _) = Prepare(output, new PrepareOptions { Inputs = [a], OutputDirectory = output, ValFraction = 0, Boundary = DocumentBoundary.BlankLine });
        Assert.Equal(Docs("first line\nsecond line", "third", "last without newline"), train);
        Assert.Equal(3, meta.TrainDocuments);
    }

    [Fact]
    public void JsonlAndGzip_ReadTheTextField()
    {
        string dir = Fixtures.TempDir("prep-jsonl");
        string plain = Path.Combine(dir, "a.jsonl"), gz = Path.Combine(dir, "b.txt.gz"), jgz = Path.Combine(dir, "c.jsonl.gz");
        File.WriteAllText(plain, "{\"text\": \"one\\ntwo\", \"id\": 1}\n\n{\"text\": \"\"}\n{\"text\": \"three \\u00e9\"}\n");
        using (var fs = File.Create(gz)) using (var z = new GZipStream(fs, CompressionLevel.Fastest)) z.Write(Encoding.UTF8.GetBytes("gzipped text\n"));
        using (var fs = File.Create(jgz)) using (var z = new GZipStream(fs, CompressionLevel.Fastest)) z.Write(Encoding.UTF8.GetBytes("{\"text\":\"four\"}"));
        string output = Path.Combine(dir, "data");
        var (meta, train, _) = Prepare(output, new PrepareOptions { Inputs = [plain, gz, jgz], OutputDirectory = output, ValFraction = 0 });
        Assert.Equal(Docs("one\ntwo", "three é", "gzipped text\n", "four"), train);
        Assert.Equal(1, meta.EmptyDocuments);
    }

    [Theory]
    [InlineData("{\"txt\": \"x\"}\n", "a.jsonl:1: field \"text\" is missing")]
    [InlineData("{\"text\": \"x\"}\n{\"text\": 5}\n", "a.jsonl:2: field \"text\" must be a string")]
    [InlineData("{\"text\": \"x\"}\n{broken\n", "a.jsonl:2: invalid JSON")]
    [InlineData("{\"text\": \"x\"}\n{\"text\": \"a\\ud800\"}\n", "a.jsonl:2: field 'text' holds a \\u escape that is not valid UTF-16")]
    public void BadJsonl_NamesFileAndLine(string content, string expected)
    {
        string dir = Fixtures.TempDir("prep-badjson");
        string a = Path.Combine(dir, "a.jsonl");
        File.WriteAllText(a, content);
        var e = Assert.Throws<DataFormatException>(() => DataPreparer.Run(Tok, new PrepareOptions { Inputs = [a], OutputDirectory = Path.Combine(dir, "d") }));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void EmptyFiles_AreSkipped_AndOnlyEmptyInputIsAnError()
    {
        string dir = Fixtures.TempDir("prep-empty");
        string empty = Path.Combine(dir, "empty.txt"), text = Path.Combine(dir, "text.txt");
        File.WriteAllText(empty, "");
        File.WriteAllText(text, "some words");
        string output = Path.Combine(dir, "data");
        var (meta, train, _) = Prepare(output, new PrepareOptions { Inputs = [empty, text, empty], OutputDirectory = output, ValFraction = 0 });
        Assert.Equal(Docs("some words"), train);
        Assert.Equal(2, meta.EmptyDocuments);
        var e = Assert.Throws<DataFormatException>(() => DataPreparer.Run(Tok, new PrepareOptions { Inputs = [empty], OutputDirectory = Path.Combine(dir, "d2") }));
        Assert.Contains("no text", e.Message);
        Assert.False(File.Exists(Path.Combine(dir, "d2", "meta.json")));
    }

    [Fact]
    public void MissingOrUnsupportedInputs_AreNamed()
    {
        string dir = Fixtures.TempDir("prep-missing");
        var e = Assert.Throws<DataFormatException>(() => DataPreparer.Run(Tok, new PrepareOptions { Inputs = [Path.Combine(dir, "nope.txt")], OutputDirectory = dir }));
        Assert.Contains("nope.txt: file not found", e.Message);
        File.WriteAllText(Path.Combine(dir, "x.csv"), "a,b");
        e = Assert.Throws<DataFormatException>(() => DataPreparer.Run(Tok, new PrepareOptions { Inputs = [Path.Combine(dir, "x.csv")], OutputDirectory = dir }));
        Assert.Contains("x.csv: unsupported input type", e.Message);
    }

    [Fact]
    public void InvalidUtf8_BecomesReplacementCharacters_AndBomIsDropped()
    {
        string dir = Fixtures.TempDir("prep-utf8");
        string a = Path.Combine(dir, "a.txt");
        byte[] bytes = [0xEF, 0xBB, 0xBF, (byte)'o', (byte)'k', 0xFF, 0xFE, (byte)' ', 0xC3, (byte)'x', 0xE2, 0x82];
        File.WriteAllBytes(a, bytes);
        string output = Path.Combine(dir, "data");
        var (_, train, _) = Prepare(output, new PrepareOptions { Inputs = [a], OutputDirectory = output, ValFraction = 0 });
        Assert.Equal(Docs("ok\uFFFD\uFFFD \uFFFDx\uFFFD"), train);
        Assert.Equal(Tok.Encode(bytes.AsSpan(3)).Append(Eot).ToArray(), train);
    }

    [Fact]
    public void LongDocuments_CutIntoPieces_GiveTheSameIdsAsWholeDocuments()
    {
        string dir = Fixtures.TempDir("prep-pieces");
        string text = Fixtures.Text;
        // one long line (like the SOTU files), a multi-line version, and runs of spaces and newlines
        string a = Path.Combine(dir, "a.txt"), b = Path.Combine(dir, "b.txt");
        File.WriteAllText(a, text.Replace("\n", " ") + text.Replace("\n", " "));
        File.WriteAllText(b, string.Join("\n", text.Split(". ")) + "\n\n  x \n\ty\n" + string.Join(" \n", text.Split(", ")));
        string whole = Path.Combine(dir, "whole"), cut = Path.Combine(dir, "cut");
        var (_, t1, _) = Prepare(whole, new PrepareOptions { Inputs = [a, b], OutputDirectory = whole, ValFraction = 0 });
        var (_, t2, _) = Prepare(cut, new PrepareOptions { Inputs = [a, b], OutputDirectory = cut, ValFraction = 0, MaxPieceChars = 64, BatchChars = 300 });
        Assert.Equal(Docs(File.ReadAllText(a), File.ReadAllText(b)), t1);
        Assert.Equal(t1, t2);
    }

    [Fact]
    public void SafeCut_OnlyAtNewlineOrSpaceBetweenLetters()
    {
        Assert.True(SafeCut.IsSafe("ab\ncd", 3));
        Assert.False(SafeCut.IsSafe("ab \ncd", 4));   // " \n" would be one piece at the end of a chunk
        Assert.False(SafeCut.IsSafe("ab\n\ncd", 4));
        Assert.True(SafeCut.IsSafe("ab cd", 2));
        Assert.False(SafeCut.IsSafe("ab  cd", 3));
        Assert.False(SafeCut.IsSafe("a1 cd", 2));
    }

    [Fact]
    public void ValidationDocuments_AreEvenlySpaced()
    {
        var o = new PrepareOptions { Inputs = [], OutputDirectory = "", ValFraction = 0.25 };
        Assert.Equal([3L, 7L, 11L], Enumerable.Range(0, 12).Select(i => (long)i).Where(o.IsValidation).ToArray());
        string dir = Fixtures.TempDir("prep-val");
        var files = new List<string>();
        for (int i = 0; i < 8; i++)
        {
            files.Add(Path.Combine(dir, $"{i}.txt"));
            File.WriteAllText(files[^1], $"document number {i}");
        }
        string output = Path.Combine(dir, "data");
        var (meta, train, val) = Prepare(output, new PrepareOptions { Inputs = files, OutputDirectory = output, ValFraction = 0.25 });
        Assert.Equal(Docs("document number 3", "document number 7"), val);
        Assert.Equal(6, meta.TrainDocuments);
        Assert.Equal(2, meta.ValDocuments);
    }

    [Fact]
    public void OneBigFile_IsSplitByTokens_TheLastShareHeldOut()
    {
        // one .txt file is one document with --boundary file: the document split would leave validation empty
        string dir = Fixtures.TempDir("prep-onefile");
        string a = Path.Combine(dir, "a.txt");
        File.WriteAllText(a, Fixtures.Text + "\n" + Fixtures.Text.ToUpperInvariant());
        string output = Path.Combine(dir, "data");
        var (meta, train, val) = Prepare(output, new PrepareOptions { Inputs = [a], OutputDirectory = output, ValFraction = 0.005 });
        int[] all = Docs(File.ReadAllText(a));
        Assert.True(all.Length >= 2 * 257, $"the fixture gives {all.Length} tokens; the test needs two windows of 257");
        long expectedVal = Math.Max(257, (long)Math.Ceiling(0.005 * all.Length));
        Assert.Equal("tokens", meta.ValSplit);
        Assert.Equal(expectedVal, meta.ValTailTokens);
        Assert.Equal(expectedVal, val.Length);
        Assert.Equal(all[..^(int)expectedVal], train);      // the stream in order: training is the head …
        Assert.Equal(all[^(int)expectedVal..], val);        // … validation the last share
        Assert.Equal((1L, 0L), (meta.TrainDocuments, meta.ValDocuments));
        Assert.Equal(train.Length, meta.TrainTokens);
        Assert.Equal(val.Length, meta.ValTokens);

        // a larger fraction holds out that share of the tokens
        string output2 = Path.Combine(dir, "data2");
        var (meta2, _, val2) = Prepare(output2, new PrepareOptions { Inputs = [a], OutputDirectory = output2, ValFraction = 0.4 });
        Assert.Equal((long)Math.Ceiling(0.4 * all.Length), val2.Length);
        Assert.Equal(all[^val2.Length..], val2);
        Assert.Equal("tokens", meta2.ValSplit);
    }

    [Fact]
    public void TooFewValidationDocuments_KeepThem_AndTakeTheRestFromTheEndOfTraining()
    {
        // four paragraphs, the fourth (short) one the document split's only validation document
        string dir = Fixtures.TempDir("prep-fewdocs");
        string a = Path.Combine(dir, "a.txt");
        string text = Fixtures.Text.Replace("\n\n", "\n").Trim();
        string[] paragraphs = [text, text.ToUpperInvariant(), text.ToLowerInvariant(), "A short one."];
        File.WriteAllText(a, string.Join("\n\n", paragraphs));
        string output = Path.Combine(dir, "data");
        var (meta, train, val) = Prepare(output, new PrepareOptions { Inputs = [a], OutputDirectory = output, ValFraction = 0.25, Boundary = DocumentBoundary.BlankLine });
        int[] trainDocs = Docs(paragraphs[0], paragraphs[1], paragraphs[2]), valDoc = Docs(paragraphs[3]);
        long want = (long)Math.Ceiling(0.25 * (trainDocs.Length + valDoc.Length));
        Assert.Equal("tokens", meta.ValSplit);
        Assert.Equal(want - valDoc.Length, meta.ValTailTokens);
        Assert.Equal(trainDocs[..^(int)meta.ValTailTokens], train);
        Assert.Equal(valDoc.Concat(trainDocs[^(int)meta.ValTailTokens..]), val);
        Assert.Equal(1, meta.ValDocuments);
    }

    [Theory]
    [InlineData(0.005, 10_000, 0, 257)]     // one document: at least one window
    [InlineData(0.05, 10_000, 0, 500)]      // the fraction of the tokens when that is more
    [InlineData(0.005, 10_000, 100, 157)]   // the document split's validation tokens count towards it
    [InlineData(0.005, 10_000, 257, 0)]     // the document split suffices
    [InlineData(0.0, 10_000, 0, 0)]         // no validation asked for
    [InlineData(0.005, 513, 0, 0)]          // too small for two windows: the document split stands
    [InlineData(0.9, 1_000, 0, 743)]        // training keeps at least one window
    public void TokenSplitTail_Rules(double fraction, long trainTokens, long valTokens, long expected)
    {
        var o = new PrepareOptions { Inputs = [], OutputDirectory = "", ValFraction = fraction };
        Assert.Equal(expected, DataPreparer.TokenSplitTail(o, trainTokens, valTokens));
    }

    [Fact]
    public void Uint32Streams_RoundTrip()
    {
        string dir = Fixtures.TempDir("prep-u32");
        int[] ids = [0, 65535, 65536, 1_000_000, 7];
        using (var w = new TokenStreamWriter(Path.Combine(dir, "train.bin"), 4)) { w.Write(ids); w.Commit(); }
        using (var w = new TokenStreamWriter(Path.Combine(dir, "val.bin"), 4)) w.Commit();
        new DatasetMeta { TokenizerHash = "x", VocabSize = 1_000_001, DType = "uint32", TrainTokens = ids.Length }.Save(dir);
        Assert.Equal(ids, ReadSplit(dir, "train"));
        Assert.Empty(ReadSplit(dir, "val"));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new TokenStreamWriter(Path.Combine(dir, "x.bin"), 2).Write([65536]));
        Assert.Contains("uint16", e.Message);
    }

    [Fact]
    public void TruncatedStream_IsReported()
    {
        string dir = Fixtures.TempDir("prep-trunc");
        File.WriteAllText(Path.Combine(dir, "a.txt"), "some words here");
        DataPreparer.Run(Tok, new PrepareOptions { Inputs = [Path.Combine(dir, "a.txt")], OutputDirectory = dir, ValFraction = 0 });
        using (var fs = new FileStream(Path.Combine(dir, "train.bin"), FileMode.Open)) fs.SetLength(fs.Length - 2);
        var e = Assert.Throws<DataFormatException>(() => TokenDataset.Open(dir, "train"));
        Assert.Contains("train.bin", e.Message);
        Assert.Contains("meta.json says", e.Message);
    }
}
