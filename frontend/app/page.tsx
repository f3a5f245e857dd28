import { connection } from "next/server";

import { SearchApp } from "@/components/search-app";
import { readApiBaseUrl, readApiKey } from "@/lib/config";

/** The search page. Rendered per request so the API address and key are read when the server runs. */
export default async function Page() {
  await connection();
  return <SearchApp apiBaseUrl={readApiBaseUrl()} apiKey={readApiKey()} />;
}
