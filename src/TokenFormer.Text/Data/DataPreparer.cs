using System.Collections.Concurrent;
using System.Diagnostics;

namespace TokenFormer.Text.Data;

/// <summary>
/// Turns text files into a data directory: <c>train.bin</c> and <c>val.bin</c> (flat token streams, uint16 when the
/// vocabulary has at most 65,536 ids, else uint32, with <c>&lt;|endoftext|&gt;</c> after every document),
/// <c>tokenizer.json</c> (a copy) and <c>meta.json</c> (written last). One thread reads and cuts documents while
/// the batch before is tokenised on all threads (<see cref="Tokenizer.EncodeBatch"/>), so memory is bounded by
/// about three batches whatever the input size.
/// Validation is held out by documents (<see cref="PrepareOptions.IsValidation"/>). When that leaves fewer than
/// <see cref="PrepareOptions.MinValidationTokens"/> validation tokens — one plain text file is one document, so the
/// most common input would otherwise get none — and the corpus is large enough for both splits to hold that many,
/// the split is made by tokens instead: the last share of the training stream (⌈val_fraction · all tokens⌉, at least
/// <see cref="PrepareOptions.MinValidationTokens"/>) moves to validation, recorded in meta.json as
/// <c>val_split: "tokens"</c>.
/// </summary>
public static class DataPreparer
{
    private sealed record Batch(List<DocumentPiece> Pieces, long BytesRead);

    /// <summary>Runs the preparation; <paramref name="progress"/> is called after each batch.</summary>
    public static DatasetMeta Run(Tokenizer tokenizer, PrepareOptions options, Action<PrepareProgress>? progress = null)
    {
        if (!(options.ValFraction >= 0 && options.ValFraction < 1))
            throw new DataFormatException($"ValFraction must be in [0, 1) (got {options.ValFraction})");
        int eot = tokenizer.EndOfTextId
            ?? throw new DataFormatException($"the tokenizer has no {Tokenizer.EndOfTextToken} token, which is appended after every document");
        List<string> files = InputReader.ExpandInputs(options.Inputs);
        long totalBytes = files.Sum(f => new FileInfo(f).Length);
        int itemSize = tokenizer.VocabSize <= 65536 ? 2 : 4;
        // A prefix space or no split pattern would change the ids at piece boundaries: then documents stay whole.
        int maxPiece = tokenizer.PreTokenizer.AddPrefixSpace || !tokenizer.PreTokenizer.UseRegex ? int.MaxValue / 4 : options.MaxPieceChars;
        Directory.CreateDirectory(options.OutputDirectory);
        var clock = Stopwatch.StartNew();

        using var train = new TokenStreamWriter(Path.Combine(options.OutputDirectory, DatasetMeta.StreamFile("train")), itemSize);
        using var val = new TokenStreamWriter(Path.Combine(options.OutputDirectory, DatasetMeta.StreamFile("val")), itemSize);
        var reader = new InputReader(options.Boundary, maxPiece);
        using var queue = new BlockingCollection<Batch>(boundedCapacity: 1);
        Exception? readError = null;
        var producer = new Thread(() =>
        {
            try
            {
                var pieces = new List<DocumentPiece>();
                long chars = 0;
                reader.Read(files, piece =>
                {
                    pieces.Add(piece);
                    chars += piece.Text.Length;
                    if (chars >= options.BatchChars)
                    {
                        queue.Add(new Batch(pieces, reader.BytesRead));
                        pieces = [];
                        chars = 0;
                    }
                });
                if (pieces.Count > 0) queue.Add(new Batch(pieces, totalBytes));
            }
            catch (Exception e) { readError = e; }
            finally { queue.CompleteAdding(); }
        }) { IsBackground = true, Name = "prepare-reader" };
        producer.Start();

        long trainDocs = 0, valDocs = 0;
        int[] eotIds = [eot];
        foreach (Batch batch in queue.GetConsumingEnumerable())
        {
            var texts = new string[batch.Pieces.Count];
            for (int i = 0; i < texts.Length; i++) texts[i] = batch.Pieces[i].Text;
            int[][] ids = tokenizer.EncodeBatch(texts);
            for (int i = 0; i < ids.Length; i++)
            {
                DocumentPiece p = batch.Pieces[i];
                bool isVal = options.IsValidation(p.Document);
                TokenStreamWriter w = isVal ? val : train;
                w.Write(ids[i]);
                if (!p.EndOfDocument) continue;
                w.Write(eotIds);
                if (isVal) valDocs++; else trainDocs++;
            }
            progress?.Invoke(new PrepareProgress(batch.BytesRead, totalBytes, train.Count + val.Count, trainDocs + valDocs, clock.Elapsed));
        }
        producer.Join();
        if (readError != null)
        {
            if (readError is DataFormatException) throw new DataFormatException(readError.Message);
            throw new IOException($"reading the inputs failed: {readError.Message}", readError);
        }
        if (trainDocs + valDocs == 0)
            throw new DataFormatException($"the inputs hold no text ({reader.EmptyDocuments} empty document(s)); nothing to prepare");

        long tail = TokenSplitTail(options, train.Count, val.Count);
        if (tail > 0) train.MoveTailTo(val, tail);

        train.Commit();
        val.Commit();
        tokenizer.Save(Path.Combine(options.OutputDirectory, DatasetMeta.TokenizerFile));
        var meta = new DatasetMeta
        {
            TokenizerHash = tokenizer.ContentHash,
            VocabSize = tokenizer.VocabSize,
            EndOfTextId = eot,
            DType = itemSize == 2 ? "uint16" : "uint32",
            TrainTokens = train.Count,
            ValTokens = val.Count,
            TrainDocuments = trainDocs,
            ValDocuments = valDocs,
            EmptyDocuments = reader.EmptyDocuments,
            ValFraction = options.ValFraction,
            ValSplit = tail > 0 ? "tokens" : "documents",
            ValTailTokens = tail,
            DocumentBoundary = options.Boundary == DocumentBoundary.File ? "file" : "blank-line",
            InputBytes = totalBytes,
            Inputs = files.Count <= 64 ? files.Select(f => Path.GetFileName(f)).ToList() : [.. files.Take(64).Select(f => Path.GetFileName(f)), $"... ({files.Count} files)"],
        };
        meta.Save(options.OutputDirectory);
        return meta;
    }

    /// <summary>
    /// Tokens to move from the end of the training stream to validation: 0 when the document split gave validation
    /// at least <see cref="PrepareOptions.MinValidationTokens"/>, when no validation was asked for (val_fraction 0),
    /// or when the corpus is too small for both splits to hold that many (then the document split stands, and
    /// <c>train</c> names the split that is too short); else enough for ⌈val_fraction · all⌉ validation tokens, at
    /// least the minimum, leaving training at least the minimum.
    /// </summary>
    public static long TokenSplitTail(PrepareOptions options, long trainTokens, long valTokens)
    {
        long min = options.MinValidationTokens, all = trainTokens + valTokens;
        if (options.ValFraction <= 0 || valTokens >= min || all < 2 * min) return 0;
        long want = Math.Clamp((long)Math.Ceiling(options.ValFraction * all), min, all - min);
        return Math.Max(0, want - valTokens);
    }
}
