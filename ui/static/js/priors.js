// Prior studies panel on the review page: the patient's earlier studies beside the current one, each with
// its first image and, once signed, its report; "Fetch from PACS" retrieves more (C-FIND / C-GET on the
// server). Reads GET/POST /studies/{uid}/priors.

import { ApiError, STATUS_LABELS, api, el, fmtDate, request } from "./api.js";

const enc = encodeURIComponent;

async function firstImage(uid) {
  const detail = await api.study(uid);
  for (const series of detail.series || []) {
    for (const instance of series.instances || []) return instance.sop_instance_uid;
  }
  return null;
}

async function thumbnail(uid) {
  const holder = el("div", { class: "prior-thumb", "aria-label": "First image of the prior study" });
  try {
    const sop = await firstImage(uid);
    if (sop) {
      const blob = await api.framePng(sop, 0, { max_size: 320 });
      holder.append(el("img", { src: URL.createObjectURL(blob), alt: "Prior study image" }));
    }
  } catch {
    holder.append(el("span", { class: "muted" }, "Image unavailable"));
  }
  return holder;
}

function priorItem(prior) {
  const status = prior.report_status ? STATUS_LABELS[prior.report_status] || prior.report_status : "Not reported here";
  const item = el("li", { class: "prior", dataset: { studyUid: prior.study_instance_uid } },
    el("div", { class: "prior-head" },
      el("strong", { class: "prior-date" }, fmtDate(prior.study_date) || "Undated"),
      el("span", { class: "muted" }, [prior.description, prior.accession_number && `Acc. ${prior.accession_number}`].filter(Boolean).join(" · ")),
      el("span", { class: "badge" }, status),
      el("a", { class: "btn btn-ghost btn-small", href: `/review/${enc(prior.study_instance_uid)}`, target: "_blank" }, "Open")));
  if (prior.report_status === "signed") {
    item.append(el("div", { class: "prior-report" },
      prior.findings_text ? el("p", { class: "prior-findings" }, prior.findings_text) : null,
      el("p", { class: "prior-impression" }, el("strong", {}, "Impression: "), prior.impression || "—"),
      el("p", { class: "muted" }, `Signed by ${prior.signed_by} ${fmtDate(prior.signed_at)}`)));
  }
  thumbnail(prior.study_instance_uid).then((thumb) => item.prepend(thumb));
  return item;
}

export async function loadPriors(studyUid, nodes) {
  const { panel, list, status, fetchButton } = nodes;
  const render = (priors) => {
    list.replaceChildren(...priors.map(priorItem));
    status.textContent = priors.length ? `${priors.length} prior stud${priors.length === 1 ? "y" : "ies"}` : "No prior study stored";
  };
  fetchButton.addEventListener("click", async () => {
    fetchButton.disabled = true;
    status.textContent = "Asking the PACS…";
    try {
      const result = await request(`studies/${enc(studyUid)}/priors/fetch`, { method: "POST" });
      render(await request(`studies/${enc(studyUid)}/priors`));
      status.textContent += ` · ${result.retrieved.length} retrieved from the PACS`;
    } catch (error) {
      status.textContent = error instanceof ApiError && error.status === 409 ? "No PACS configured for priors" : `PACS: ${error.message}`;
    } finally {
      fetchButton.disabled = false;
    }
  });
  panel.hidden = false;
  try {
    render(await request(`studies/${enc(studyUid)}/priors`));
  } catch (error) {
    status.textContent = `Priors unavailable: ${error.message}`;
  }
}
