using System.Security.Cryptography;
using System.Text;

namespace TokenFormer.Model.Distributed;

/// <summary>
/// The start-up check of a data-parallel job: every rank describes what it was started with (version, data, model,
/// options: see the train command) as named fields; the descriptions are all-gathered and a rank whose field differs
/// from rank 0's stops the job, naming the field, the ranks and both values. Long values are compared by hash.
/// </summary>
public static class RunAgreement
{
    /// <summary>Fields compared (a fixed number, so that the all-gather has the same size on every rank).</summary>
    public const int MaxFields = 8;
    /// <summary>Bytes per field: its name and value (or hash), UTF-8.</summary>
    public const int SlotBytes = 1024;

    /// <summary>The text a field is compared by: the value itself when short, else its SHA-256 (with the value's start).</summary>
    public static string Summary(string field, string value)
    {
        string text = field + "=" + value;
        if (Encoding.UTF8.GetByteCount(text) <= SlotBytes) return text;
        string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..16].ToLowerInvariant();
        string head = value.Length > 200 ? value[..200] + "…" : value;
        text = $"{field}=sha256 {hash} ({head})";
        while (Encoding.UTF8.GetByteCount(text) > SlotBytes) text = text[..^2] + "…";
        return text;
    }

    /// <summary>
    /// Compares <paramref name="fields"/> across the ranks of <paramref name="comm"/> (every rank must call it);
    /// throws <see cref="RankMismatchException"/> on every rank when any differs.
    /// </summary>
    public static void Check(ICommunicator comm, IReadOnlyList<(string Field, string Value)> fields)
    {
        if (fields.Count > MaxFields) throw new ArgumentException($"at most {MaxFields} fields", nameof(fields));
        if (comm.Size == 1) return;
        var mine = new byte[MaxFields * SlotBytes];
        for (int i = 0; i < fields.Count; i++)
            Encoding.UTF8.GetBytes(Summary(fields[i].Field, fields[i].Value), mine.AsSpan(i * SlotBytes, SlotBytes));
        var all = new byte[mine.Length * comm.Size];
        comm.AllGather(mine, all);
        string Slot(int rank, int i) => Encoding.UTF8.GetString(all.AsSpan(rank * mine.Length + i * SlotBytes, SlotBytes)).TrimEnd('\0');
        var problems = new List<string>();
        for (int i = 0; i < MaxFields; i++)
        {
            string reference = Slot(0, i);
            var differing = Enumerable.Range(1, comm.Size - 1).Where(r => Slot(r, i) != reference).ToArray();
            if (differing.Length == 0) continue;
            string name = reference.Contains('=') ? reference[..reference.IndexOf('=')] : Slot(differing[0], i).Split('=')[0];
            problems.Add($"{name}: rank 0 has {Value(reference)}, " + string.Join(", ", differing.Select(r => $"rank {r} {Value(Slot(r, i))}"))
                + FirstDifference(reference, Slot(differing[0], i), differing[0]));
        }
        if (problems.Count > 0)
            throw new RankMismatchException("the ranks were started differently and the job is refused: " + string.Join("; ", problems)
                + " (every rank needs the same tokenformer version, data, model and options)");
    }

    /// <summary>For values of words (a command line): the first word that differs, with the word before it (its flag).</summary>
    private static string FirstDifference(string a, string b, int rank)
    {
        string[] x = a.Split(' '), y = b.Split(' ');
        for (int i = 0; i < Math.Max(x.Length, y.Length); i++)
        {
            string? u = i < x.Length ? x[i] : null, v = i < y.Length ? y[i] : null;
            if (u == v) continue;
            if (u == null || v == null || x.Length < 3) return "";
            string before = i > 0 && x[i - 1] == y[i - 1] && x[i - 1].StartsWith("--", StringComparison.Ordinal) ? x[i - 1] + " " : "";
            return $" (first difference: '{before}{u}' on rank 0, '{before}{v}' on rank {rank})";
        }
        return "";
    }

    private static string Value(string slot) => slot.Contains('=') ? "'" + slot[(slot.IndexOf('=') + 1)..] + "'" : "(nothing)";
}
