import { mount } from "svelte";
import App from "./App.svelte";
import { pickTransport } from "./lib/transport";
import "./app.css";

const target = document.getElementById("app");
if (!target) throw new Error("index.html lacks #app");
mount(App, { target, props: { transport: pickTransport() } });
