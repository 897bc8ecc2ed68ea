// A StatusNotifierWatcher on the session bus, the part of a desktop's panel that tray icons
// register with (KDE, GNOME's AppIndicator extension, waybar...). Under Xvfb there is no panel,
// so the test plays it: it sees the app's tray icon register, reads its menu over dbusmenu, and
// clicks menu items the way a panel does.
import dbus from "dbus-next";

const { Message, Variant } = dbus;
const WATCHER = "org.kde.StatusNotifierWatcher";

export interface MenuItem {
  id: number;
  label: string;
  type: string;
}

export interface TrayItem {
  busName: string;
  objectPath: string;
  property(name: string): Promise<unknown>;
  menu(): Promise<MenuItem[]>;
  click(id: number): Promise<void>;
}

type Layout = [number, Record<string, InstanceType<typeof Variant>>, InstanceType<typeof Variant>[]];

function flatten([id, props, children]: Layout, into: MenuItem[] = []): MenuItem[] {
  const label = props.label?.value;
  if (id !== 0) into.push({ id, label: typeof label === "string" ? label : "", type: String(props.type?.value ?? "standard") });
  for (const child of children) flatten(child.value as Layout, into);
  return into;
}

export class TrayWatcher {
  private readonly bus = dbus.sessionBus();
  private readonly waiting: ((item: TrayItem) => void)[] = [];
  readonly items: TrayItem[] = [];

  static async start(): Promise<TrayWatcher> {
    const watcher = new TrayWatcher();
    const reply = await watcher.bus.requestName(WATCHER, 0);
    if (reply !== dbus.RequestNameReply.PRIMARY_OWNER) throw new Error(`could not own ${WATCHER} (reply ${reply})`);
    watcher.bus.addMethodHandler((message) => watcher.handle(message));
    return watcher;
  }

  private handle(message: InstanceType<typeof Message>): boolean {
    if (message.interface === WATCHER && message.member === "RegisterStatusNotifierItem") {
      const [service] = message.body as [string];
      const busName = service.startsWith("/") ? (message.sender ?? "") : service;
      const objectPath = service.startsWith("/") ? service : "/StatusNotifierItem";
      this.bus.send(Message.newMethodReturn(message, "", []));
      const item = this.item(busName, objectPath);
      this.items.push(item);
      this.waiting.splice(0).forEach((resolve) => resolve(item));
      return true;
    }
    if (message.interface === WATCHER && message.member === "RegisterStatusNotifierHost") {
      this.bus.send(Message.newMethodReturn(message, "", []));
      return true;
    }
    if (message.interface === "org.freedesktop.DBus.Properties" && message.path === "/StatusNotifierWatcher") {
      const properties: Record<string, InstanceType<typeof Variant>> = {
        IsStatusNotifierHostRegistered: new Variant("b", true),
        ProtocolVersion: new Variant("i", 0),
        RegisteredStatusNotifierItems: new Variant("as", this.items.map((item) => item.busName + item.objectPath)),
      };
      if (message.member === "Get") {
        const [, name] = message.body as [string, string];
        const value = properties[name];
        if (!value) return false;
        this.bus.send(Message.newMethodReturn(message, "v", [value]));
        return true;
      }
      if (message.member === "GetAll") {
        this.bus.send(Message.newMethodReturn(message, "a{sv}", [properties]));
        return true;
      }
    }
    return false;
  }

  private item(busName: string, objectPath: string): TrayItem {
    const bus = this.bus;
    const menuInterface = async () => {
      const menuPath = (await property("Menu")) as string;
      const menuObject = await bus.getProxyObject(busName, menuPath);
      return menuObject.getInterface("com.canonical.dbusmenu");
    };
    const property = async (name: string): Promise<unknown> => {
      const object = await bus.getProxyObject(busName, objectPath);
      const variant = await object.getInterface("org.freedesktop.DBus.Properties").Get("org.kde.StatusNotifierItem", name);
      return (variant as InstanceType<typeof Variant>).value;
    };
    return {
      busName,
      objectPath,
      property,
      async menu() {
        const [, layout] = (await (await menuInterface()).GetLayout(0, -1, [])) as [number, Layout];
        return flatten(layout);
      },
      async click(id: number) {
        await (await menuInterface()).Event(id, "clicked", new Variant("s", ""), 0);
      },
    };
  }

  nextItem(timeoutMs = 60_000): Promise<TrayItem> {
    const existing = this.items[0];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no tray item registered within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((item) => {
        clearTimeout(timer);
        resolve(item);
      });
    });
  }

  stop(): void {
    this.bus.disconnect();
  }
}
