/**
 * Text with some of its words marked (`<mark>`): the text read in an image, with the words the
 * query matched (the API's `matched_words`; lib/highlight.ts finds them).
 */

import { highlightWords } from "@/lib/highlight";

interface HighlightedTextProps {
  text: string;
  words: readonly string[];
  /** Classes of the marks, to suit a light card or the dark larger view. */
  markClassName?: string;
}

const MARK = "rounded-sm bg-amber-200 px-0.5 font-semibold text-zinc-900 dark:bg-amber-400/80";

export function HighlightedText({ text, words, markClassName = MARK }: HighlightedTextProps) {
  return (
    <>
      {highlightWords(text, words).map((segment, index) =>
        segment.match ? (
          <mark key={index} className={markClassName}>
            {segment.text}
          </mark>
        ) : (
          <span key={index}>{segment.text}</span>
        ),
      )}
    </>
  );
}
