using System.Text;

namespace TokenFormer.Text;

/// <summary>
/// Trains a byte-level BPE with Hugging Face's <c>BpeTrainer</c> algorithm, so that the same text and settings
/// give the same vocabulary and merges: special tokens first, then the alphabet sorted by code point, then merges
/// chosen by a max-heap on (pair count, then smallest pair of ids) with lazily refreshed counts. Deterministic.
/// </summary>
public sealed class BpeTrainer(BpeTrainerOptions options)
{
    private readonly WordCounter _counter = new(options.AddPrefixSpace);

    /// <summary>The settings.</summary>
    public BpeTrainerOptions Options { get; } = options;

    /// <summary>Distinct words counted so far.</summary>
    public int DistinctWords => _counter.Counts.Count;

    /// <summary>Counts the words of a UTF-8 text file (lines keep their '\n', as in Hugging Face's <c>train</c>).</summary>
    public void AddFile(string path) => _counter.AddFile(path);

    /// <summary>Counts the words of <paramref name="text"/> (split into lines that keep their '\n').</summary>
    public void AddText(string text) => _counter.AddText(text);

    /// <summary>Trains on files and returns the tokenizer.</summary>
    public static Tokenizer TrainFromFiles(IEnumerable<string> paths, BpeTrainerOptions options)
    {
        var trainer = new BpeTrainer(options);
        foreach (string path in paths) trainer.AddFile(path);
        return trainer.Train();
    }

    /// <summary>Runs the merges on the words counted so far and returns the tokenizer.</summary>
    public Tokenizer Train()
    {
        Options.Validate();
        var tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        var idToToken = new List<string>();
        int Add(string token)
        {
            if (tokenToId.TryGetValue(token, out int existing)) return existing;
            tokenToId[token] = idToToken.Count;
            idToToken.Add(token);
            return idToToken.Count - 1;
        }
        foreach (string special in Options.SpecialTokens) Add(special);

        // Words as byte-level strings, and the alphabet (sorted by code point) with the optional 256 byte characters.
        var words = new List<(string Mapped, long Count)>(_counter.Counts.Count);
        var alphabet = new SortedSet<char>();
        if (Options.ByteLevelAlphabet) foreach (char c in ByteLevelAlphabet.Characters) alphabet.Add(c);
        byte[] buffer = new byte[256];
        foreach (var (word, count) in _counter.Counts)
        {
            int max = Encoding.UTF8.GetMaxByteCount(word.Length);
            if (buffer.Length < max) buffer = new byte[Math.Max(max, buffer.Length * 2)];
            int n = Encoding.UTF8.GetBytes(word, buffer);
            string mapped = ByteLevelAlphabet.Map(buffer.AsSpan(0, n));
            foreach (char c in mapped) alphabet.Add(c);
            words.Add((mapped, count));
        }
        foreach (char c in alphabet) Add(c.ToString());

        var symbols = new int[words.Count][];
        var lengths = new int[words.Count];
        var counts = new long[words.Count];
        for (int w = 0; w < words.Count; w++)
        {
            string mapped = words[w].Mapped;
            var s = new int[mapped.Length];
            for (int i = 0; i < s.Length; i++) s[i] = tokenToId[mapped[i].ToString()];
            symbols[w] = s;
            lengths[w] = s.Length;
            counts[w] = words[w].Count;
        }

        var merges = RunMerges(symbols, lengths, counts, tokenToId, idToToken, Add);
        return Build(tokenToId, idToToken, merges);
    }

    private List<(int Left, int Right)> RunMerges(int[][] symbols, int[] lengths, long[] counts,
        Dictionary<string, int> tokenToId, List<string> idToToken, Func<string, int> add)
    {
        var pairCounts = new Dictionary<long, long>();
        var whereToUpdate = new Dictionary<long, HashSet<int>>();
        for (int w = 0; w < symbols.Length; w++)
        {
            int[] s = symbols[w];
            for (int i = 0; i + 1 < lengths[w]; i++)
            {
                long pair = BpeMerges.Key(s[i], s[i + 1]);
                pairCounts.TryGetValue(pair, out long c);
                pairCounts[pair] = c + counts[w];
                if (!whereToUpdate.TryGetValue(pair, out HashSet<int>? set)) whereToUpdate[pair] = set = new HashSet<int>();
                set.Add(w);
            }
        }

        var queue = new PriorityQueue<MergeCandidate, (long Count, long Pair)>(pairCounts.Count, CandidateOrder.Instance);
        void PushPending()
        {
            foreach (var (pair, positions) in whereToUpdate)
            {
                long count = pairCounts[pair];
                if (count > 0) queue.Enqueue(new MergeCandidate(pair, positions), (count, pair));
            }
            whereToUpdate.Clear();
        }
        PushPending();

        var merges = new List<(int, int)>();
        var changes = new List<(long Pair, int Delta)>();
        while (tokenToId.Count < Options.VocabSize && queue.TryDequeue(out MergeCandidate? top, out var priority))
        {
            long current = pairCounts[top.Pair];
            if (priority.Count != current)
            {
                queue.Enqueue(top, (current, top.Pair));
                continue;
            }
            if (current < 1 || Options.MinFrequency > current) break;

            int left = (int)(top.Pair >> 32), right = (int)(uint)top.Pair;
            int newId = add(idToToken[left] + idToToken[right]);
            merges.Add((left, right));

            foreach (int w in top.Positions)
            {
                changes.Clear();
                lengths[w] = MergeWord(symbols[w], lengths[w], left, right, newId, changes);
                foreach (var (pair, delta) in changes)
                {
                    pairCounts.TryGetValue(pair, out long c);
                    pairCounts[pair] = c + delta * counts[w];
                    if (delta > 0)
                    {
                        if (!whereToUpdate.TryGetValue(pair, out HashSet<int>? set)) whereToUpdate[pair] = set = new HashSet<int>();
                        set.Add(w);
                    }
                }
            }
            PushPending();
        }
        return merges;
    }

    /// <summary>
    /// Merges every non-overlapping (left, right) in one word, left to right, recording the pair-count changes
    /// (Hugging Face's <c>Word::merge</c>). Returns the new length.
    /// </summary>
    internal static int MergeWord(int[] s, int length, int left, int right, int newId, List<(long Pair, int Delta)> changes)
    {
        for (int i = 0; i < length; i++)
        {
            if (s[i] != left || i + 1 >= length || s[i + 1] != right) continue;
            if (i > 0)
            {
                changes.Add((BpeMerges.Key(s[i - 1], left), -1));
                changes.Add((BpeMerges.Key(s[i - 1], newId), 1));
            }
            s[i] = newId;
            Array.Copy(s, i + 2, s, i + 1, length - i - 2);
            length--;
            if (i < length - 1)
            {
                changes.Add((BpeMerges.Key(right, s[i + 1]), -1));
                changes.Add((BpeMerges.Key(newId, s[i + 1]), 1));
            }
        }
        return length;
    }

    private Tokenizer Build(Dictionary<string, int> tokenToId, List<string> idToToken, List<(int Left, int Right)> merges)
    {
        // A pair merged twice (possible when two pairs make the same token) keeps its last rank, as HF saves it.
        var lastRank = new Dictionary<(int, int), int>();
        for (int r = 0; r < merges.Count; r++) lastRank[merges[r]] = r;
        var mergeList = new List<(string, string)>(merges.Count);
        for (int r = 0; r < merges.Count; r++)
            if (lastRank[merges[r]] == r) mergeList.Add((idToToken[merges[r].Left], idToToken[merges[r].Right]));

        var model = new BpeModel(tokenToId, mergeList);
        var added = Options.SpecialTokens.Distinct().Select(s => new AddedToken(tokenToId[s], s, Special: true)).ToList();
        var byteLevel = new ByteLevelOptions(AddPrefixSpace: Options.AddPrefixSpace, TrimOffsets: true, UseRegex: true);
        return new Tokenizer(model, added, [], byteLevel, byteLevel, byteLevel);
    }

    private sealed record MergeCandidate(long Pair, HashSet<int> Positions);

    /// <summary>Highest count first; among equal counts the smallest (left, right) id pair.</summary>
    private sealed class CandidateOrder : IComparer<(long Count, long Pair)>
    {
        public static readonly CandidateOrder Instance = new();

        public int Compare((long Count, long Pair) x, (long Count, long Pair) y) =>
            x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair);
    }
}
