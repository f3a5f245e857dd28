"use client";

/**
 * Image input from anywhere on the page: drag-and-drop a file onto the window, or paste one from
 * the clipboard. The file picker lives in SearchApp; all three end in the same `onImage`.
 */

import { useEffect, useRef, useState } from "react";

import { UploadIcon } from "@/components/icons";

export function useImageDropAndPaste(onImage: (file: File) => void): { dragging: boolean } {
  const [dragging, setDragging] = useState(false);
  const depth = useRef(0);
  const latest = useRef(onImage);

  useEffect(() => {
    latest.current = onImage;
  }, [onImage]);

  useEffect(() => {
    const carriesFiles = (event: DragEvent) => Array.from(event.dataTransfer?.types ?? []).includes("Files");

    const onDragEnter = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth.current += 1;
      setDragging(true);
    };
    const onDragOver = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      event.preventDefault(); // allows the drop
      if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
    };
    const onDragLeave = (event: DragEvent) => {
      if (!carriesFiles(event)) return;
      // enter/leave fire for every child element; only leaving the window ends the drag.
      depth.current = Math.max(0, depth.current - 1);
      if (depth.current === 0) setDragging(false);
    };
    const onDrop = (event: DragEvent) => {
      depth.current = 0;
      setDragging(false);
      const file = event.dataTransfer?.files?.[0];
      if (!file) return;
      event.preventDefault(); // otherwise the browser opens the file
      latest.current(file);
    };
    const onPaste = (event: ClipboardEvent) => {
      const files = Array.from(event.clipboardData?.files ?? []);
      const file = files.find((candidate) => candidate.type.startsWith("image/")) ?? files[0];
      if (!file) return; // plain text: let the search box take it
      event.preventDefault();
      latest.current(file);
    };

    window.addEventListener("dragenter", onDragEnter);
    window.addEventListener("dragover", onDragOver);
    window.addEventListener("dragleave", onDragLeave);
    window.addEventListener("drop", onDrop);
    window.addEventListener("paste", onPaste);
    return () => {
      window.removeEventListener("dragenter", onDragEnter);
      window.removeEventListener("dragover", onDragOver);
      window.removeEventListener("dragleave", onDragLeave);
      window.removeEventListener("drop", onDrop);
      window.removeEventListener("paste", onPaste);
    };
  }, []);

  return { dragging };
}

export function DropOverlay({ visible }: { visible: boolean }) {
  if (!visible) return null;
  return (
    <div
      data-testid="drop-overlay"
      className="pointer-events-none fixed inset-0 z-50 flex items-center justify-center bg-indigo-950/40 p-6 backdrop-blur-sm"
    >
      <div className="flex w-full max-w-lg flex-col items-center gap-3 rounded-3xl border-2 border-dashed border-white/70 bg-white/90 px-8 py-14 text-center shadow-2xl dark:bg-zinc-900/90">
        <UploadIcon className="size-10 text-indigo-600 dark:text-indigo-400" />
        <p className="text-lg font-semibold text-zinc-900 dark:text-zinc-50">Drop an image to search with it</p>
        <p className="text-sm text-zinc-500 dark:text-zinc-400">We&apos;ll find the most similar images in the index.</p>
      </div>
    </div>
  );
}
